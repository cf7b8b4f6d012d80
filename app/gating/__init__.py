"""Token- and NFT-gated rooms: who may join, read from the chain, cached, re-checked."""

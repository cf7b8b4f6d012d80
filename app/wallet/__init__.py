"""Wallet sign-in: SIWE messages and checks, contract-wallet signatures, sessions."""

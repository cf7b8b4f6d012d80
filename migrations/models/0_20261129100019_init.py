from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "rooms" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(50) NOT NULL UNIQUE,
    "access_type" VARCHAR(16) NOT NULL,
    "token_address" VARCHAR(42),
    "token_amount" VARCHAR(80),
    "nft_address" VARCHAR(42),
    "livekit_sid" VARCHAR(64),
    "empty_timeout" INT NOT NULL,
    "departure_timeout" INT NOT NULL,
    "max_participants" INT NOT NULL,
    "metadata" TEXT,
    "status" VARCHAR(8) NOT NULL,
    "num_participants" INT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_rooms_livekit_35851c" ON "rooms" ("livekit_sid");
COMMENT ON COLUMN "rooms"."access_type" IS 'PUBLIC: public\nTOKEN: token\nNFT: nft';
COMMENT ON COLUMN "rooms"."status" IS 'IDLE: idle\nLIVE: live';
COMMENT ON TABLE "rooms" IS 'A room clients created; `status` and `num_participants` follow the webhooks.';
CREATE TABLE IF NOT EXISTS "room_sessions" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "sid" VARCHAR(64) NOT NULL UNIQUE,
    "room_name" VARCHAR(128) NOT NULL,
    "started_at" TIMESTAMPTZ NOT NULL,
    "ended_at" TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS "idx_room_sessio_room_na_26c4da" ON "room_sessions" ("room_name", "started_at");
COMMENT ON TABLE "room_sessions" IS 'One LiveKit room instance, from room_started to room_finished.';
CREATE TABLE IF NOT EXISTS "participant_sessions" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "sid" VARCHAR(64) NOT NULL UNIQUE,
    "identity" VARCHAR(256) NOT NULL,
    "name" VARCHAR(256),
    "kind" VARCHAR(16) NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "joined_at" TIMESTAMPTZ,
    "left_at" TIMESTAMPTZ,
    "disconnect_reason" VARCHAR(64),
    "track_count" INT NOT NULL,
    "room_session_id" INT NOT NULL REFERENCES "room_sessions" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_participant_room_se_dcd2a6" ON "participant_sessions" ("room_session_id", "left_at");
COMMENT ON TABLE "participant_sessions" IS 'One connection of one participant, from join (or its first sign) to leave.';
CREATE TABLE IF NOT EXISTS "webhook_inbox" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "event_id" VARCHAR(128) NOT NULL UNIQUE,
    "event_type" VARCHAR(64) NOT NULL,
    "room_name" VARCHAR(128),
    "room_sid" VARCHAR(64),
    "livekit_created_at" BIGINT NOT NULL,
    "received_at" TIMESTAMPTZ NOT NULL,
    "payload" TEXT NOT NULL,
    "processed_at" TIMESTAMPTZ,
    "attempts" INT NOT NULL,
    "last_error" TEXT
);
CREATE INDEX IF NOT EXISTS "idx_webhook_inb_room_na_8aba5b" ON "webhook_inbox" ("room_name", "processed_at");
COMMENT ON TABLE "webhook_inbox" IS 'One LiveKit event, unique by its id; applied by its room''s actor, once.';
CREATE TABLE IF NOT EXISTS "aerich" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSONB NOT NULL
);"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        """


MODELS_STATE = (
    "eJztXG1z2jgQ/isaf7l0JtchDiRc+4mkpOWSQifh2k5fxhW2AB1GorachOnlv5/kF/wmOz"
    "YlLrh8Ala7svxIXj27WvNDmVMDmfbzd9BiWMcLSNgNsm1MifIC/FAInCP+JUfrEChwsQh1"
    "hIDBkemaLUJ9zfYMXAU4spkFdcZ1xtC0ERcZyNYtvGDelZUBQUCnhCBdSAAdA8olkf4Owd"
    "iic/AvxQQcUAtgZoMxtmwGbDwhzwCjwETwFj0X1zOozi+IyWTzXTsEf3eQxugEsSmy+AU+"
    "f+ViTAx0j2zx87NiUToP7l/DhjAz0ZhpkClfhfJipo0xMo0Y5J6eK9fYcuHKeoRduIrink"
    "aaTk1nTkLlxZJN+RUCbUyYkE4QQRZkSHTPLEeATRzT9OcowN+7j1DFu4GIjYHG0DHFlAlr"
    "bwChTNG0/mCo3XSHmqakpjOwiEyDL+ITIZYCH6rt3v1EDOFP9ah52mwfnzTbLlRctJKcPn"
    "iXDoHxDF14+kPlwW2HDHoa7gyEoNoyVM+n0JLDaktx5QNO4hqguL3AzuG9ZiIyYVP+86SZ"
    "g+L7zvX5m871wUnzmbgg5Q+q9zT3/RbVbRJAR1crIgyzZRl0ozabgTgQhBiH7qVykNXWSQ"
    "GUuVYmzG5bHGf3swTGgf5a+PoL9DeCd8ZvrQy8gX51y5f3DYkBrWAsT4zyURGQj7IxPkpB"
    "zMfPSi3hlUGFIIu9H+0sxN7oBb1IwfyKI8XwHMmhjhkm4DZ8y+fBl91zIDk4D3tvuzfDzt"
    "t3ovu5bX83XbQ6w65oUV3pMiE9SM7JqhPwoTd8A8RP8GnQ77poUptNLPeKod7wkyLGBB1G"
    "NULvNGhEMQnEgSg2xwGBLDnDEbP9/G7z/BrY9oMUzULQ9iKtoi5Talw/CrB5Giui0hkH0i"
    "GSJysz+kpYPR6GbWqfajwVzBsJw0JYJQFwQWglltXBu+WBrkgdjGfSODcKWxrtC2ohPCGX"
    "aOmC3iOCU+oyjuXnfa55d5GEz45h/RAsqkAa+jUL3q1SL7K1xr9wABDz/G3n5rzzqqu4wI"
    "/4I3/HabgWmwHRQlWakKx0001zdZ6UQAInLkjibsTYI5OgSJJyrvwwLw0nbqxg3q0DhDLQ"
    "TcxjcxvofPvg8/wSfBMs3LG/AR58gG/EmWuRhBkXj6lp0jvApgjcodGU0pmdzrxtuvPHc2"
    "/77FqV2bVKkxNbBm2MmLQaBYhJq5FJTERTfAeFus4dkweRFOEuf2xS3jyGdqKLCqPphTMy"
    "sV4ymlbe/XN21Tt/ATzrL2Q4uOz2+azSGSJfSP9iyOdizJJO5tdE3O6gBL3nEYBd5hFIGd"
    "aPpTfVAmg31Uy0RZMU7bmcpj8K9jyDqNcA63YRx9POdjztlOMhIl9Qfl0nzOqH9OZXtYlv"
    "0QwzreQZVcLsiZCu01kVmi/YUhMpLuqUCfNTdtVFoieNXQn1DSS4u2OhNQCW2lYHsrorGI"
    "vnIxohlYBYZlodwq2dQRgxKMKcNLJDdJ8FbcSmDvtdXja9+3EYS6QH7vbgbefjs1gy/WrQ"
    "fx2oR9zz+dXgTHIw6GSQjMejm9C6wsAGG2YwksJhTe/VVfcFEJZfyFXvPf8udvB1wph2Ea"
    "6XTfVSTC+RdynhVWSm+yx40qn4+a41Tu3ilhs4uNu2FK3Cb9AYEHPpu8EdOcnzPXbuQZ6z"
    "MNac9bjlfta3ZdYl57fu6FPnMb/unCCnhjdxlpN/arBG1e4V380uMfNS/djfrv2SWq9Lxn"
    "cKZIgyWvf3GBNsT5Ehr9T9ue4KV+cGqWi/t31p7r40tzJgnzjdEVvfReGNGdWwOPdILcKe"
    "uVb2IYCaYtAR51Fyq49b1nCr392tPc3oEIdwnUmO2u2L77Zthkuwt3Ap5MfLZ771xeU1Mi"
    "HD0jq83FerdvMpT1XaPDwl3/3glYT0yIjeywhvrD2X8frFJRpeqZZivOgWiZfHvMkAo6X7"
    "4hg2XgJ+RRNziuqLxN76hw14v9Q6BJTz2Xzq+5P9lubAC4uKSoF1WPAZnvwuRPgvVT0+Pl"
    "UbxyftVvP0tNVurBhxuimPGp/1Xgt2HHN2j9Nld1FIaymzSV3UpnbE+UkYnYdYdtVNHs7V"
    "F9rsg5QdP3KpYEV7OZNyfiNqUz+YN7+Yg5KMvIR/3k4pt6/NgUolO2dkxSMdcUDXidgSpj"
    "WMy3c0BV/k4GUBlyaFEkeXfYQfManFrl31EX4scij5rCVt9xmSbcuQxOrRGRPlcGWKBKIm"
    "tdnLNlYcYEKbaciyqFXGYcWt6sDNqnBZW3JQ20EW1qeKJGXltxzmJatgqPNYliob/P0bVN"
    "t1CHqLLPkrm9nBWcSkFpwl+S8vrUL/8tLK+ZeXVuplKv5QlUDYV68hukeNIu+LcK3sDEMj"
    "9cYIvyJDshdz/r4Z9DPq20KTJO3DOgP/ARPbu/iWdw64Aoz8zSy5byVYnOjgl29mD/8Di9"
    "KusQ=="
)

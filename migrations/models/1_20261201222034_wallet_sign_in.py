from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "siwe_nonces" (
    "nonce" VARCHAR(64) NOT NULL PRIMARY KEY,
    "expires_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_siwe_nonces_expires_12c97c" ON "siwe_nonces" ("expires_at");
COMMENT ON TABLE "siwe_nonces" IS 'A nonce handed out by `POST /v1/auth/nonce`; deleted by the first sign-in naming it.';
        CREATE TABLE IF NOT EXISTS "wallet_sessions" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "token_hash" VARCHAR(64) NOT NULL UNIQUE,
    "address" VARCHAR(42) NOT NULL,
    "chain_id" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_wallet_sess_address_6b2f0b" ON "wallet_sessions" ("address");
CREATE INDEX IF NOT EXISTS "idx_wallet_sess_expires_73174f" ON "wallet_sessions" ("expires_at");
COMMENT ON TABLE "wallet_sessions" IS 'A signed-in wallet. Only the SHA-256 of its bearer token is stored.';
        ALTER TABLE "rooms" ADD "owner" VARCHAR(42);
        CREATE INDEX IF NOT EXISTS "idx_rooms_owner_a66edf" ON "rooms" ("owner");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP INDEX IF EXISTS "idx_rooms_owner_a66edf";
        ALTER TABLE "rooms" DROP COLUMN "owner";
        DROP TABLE IF EXISTS "siwe_nonces";
        DROP TABLE IF EXISTS "wallet_sessions";"""


MODELS_STATE = (
    "eJztXFtz2jgU/isaXjadSVNCQsK2TyQlWzYpZALbdnoZR9gCtDESteUQppv/vpIv+CY7Ng"
    "EHXJ5CpHMk+Tvy0bnJvyoTqiHdPLiGBsMqnkLCesg0MSWVt+BXhcAJ4j9SqPZBBU6nPo1o"
    "YHCg22xTn14xHQabAA5MZkCVcZoh1E3EmzRkqgaeMmfmSpcgoFJCkCpaAB0CylsC4+2DoU"
    "En4F+KCdijBsDMBENsmAyYeEReAUaBjuA9OhDzaVTlE2IyWv3QFsE/LaQwOkJsjAw+wbcf"
    "vBkTDT0gU/z7rWJQOvGeX8GaYNPRkCmQVX4I4umdMsRI10KQO3R2u8LmU7utTdiFTSieaa"
    "CoVLcmxCeeztmYz+BRY8JE6wgRZECGxPDMsATYxNJ1V0Ye/s5z+CTOAwR4NDSEli5EJrid"
    "BfhtFUXpdPtKr9VXlEpMnB5HQAxuExeE2Ap8qab99COxhNe1w+PT48bRyXHDhoo3LVpOH5"
    "2pfWAcRhueTr/yaPdDBh0KWwI+qKYM1fMxNOSwmlJc+YKjuHoobi6wE/ig6IiM2Jj/e3Kc"
    "guKn5s35h+bN3snxKzEh5S+q8zZ33J6a3SWADu5WRBhm8zzoBnlWA7HX4GPsq5fCQa7VTz"
    "KgzKkSYbb7wjjbf3Ng7NEvha+7QX8jeO/4o+WB16MvbvvysSHRoOGtZc0oH2YB+TAZ48MY"
    "xHz9LNcWXjAUCLI4+9HWQuysXpgXMZjfc6QYniA51CHGCNyay3ng/dg+BZKCc7/9sdXrNz"
    "9ei+EnpvlTt9Fq9luip2a3ziOte1GZLAYBn9v9D0D8C752Oy0bTWqykWHP6NP1v1bEmqDF"
    "qELoTIFaEBOv2WsKydgzIHNKOMC2k+8my1fDpuukKAaCpuNpZVWZUubymQCrN2OFV3rHgb"
    "SI5M1K9L4iXE+7Yas6p6rrgnklbpgPq8QBzgithLM4eDfc0RWhg+Gd1M8NwhZH+4IaCI/I"
    "JZrboLeJsClVmY3lxn1u+HCBgM+WYf3obSqv1ddrBpwtQi+yvcZ/cAAQc/Rts3fefN+q2M"
    "AP+Cs/42a4EpKA6KE1GmlZ0Ma7JrVJtAUSOLJBEk8j1h4QQkUSlLPb99PCcOLBMsbdmkAQ"
    "A1XH3Dc3gcqPDy7nd+BWWOGWeQu48wFuiTVRAgEz3jykuk5ngI0RmKHBmNI7Mx55W/XgT8"
    "fedtG1IqNrhQYnNgzakGFSr2YwTOrVRMNEdIVPUKiqXDE5EEkRbvHXJqbNQ2hHhijQm55a"
    "Ax2rOb3pyvU/Z1ft87fA4f5O+t3LVodLld4h8p10LvpcFkMWVTIv43HbixLmPfcAzDyvQI"
    "yxfFb6cS0D2se1RLRFlxTtidxMfxLsSYKhXgKsG1kUTyNZ8TRiioeIeEH+fR1hKx/Sq9/V"
    "Or5Hd5gpOXNUEbY1IV2mXBWdcTDyQLxgKB24q9/FaDJlc0XED6mVJ4YS4yvOzT+pbkscRU"
    "PCMbIMtATAUt7iQK5tC8bi/Qi6nzkglrEWh3B9axBGDAofMo5sHz0kQRvgKYMxkZaqaH3p"
    "h7IUnrrd+9j88iqUqbjqdv7yyAPq+fyqeybJuloJFtzTrqPPXaDXiDXdW0lmn7H9/qr1Fg"
    "jO7+Sq/Yn/FubRMj5iI4shnWxHx8zoSFArh1aRse5SDFGl4gYTl0iJhjlXkBXdtPh3hT+g"
    "1iX63FWDW5ImdTV2apbUmmpLSj3MuZP6pkhdkhy3Vx9Ldr1cEialQDqSKEtPySxREn3FT7"
    "NLzJw8CnaPa7de2RmS8ZMCaaJG2f5/iAk2x0iTl0E/b7jMpc9enN8dbVf3vKt7LgzYNceS"
    "Qvs7K7whphJWPh/WsljPnCo5w1KLWdAB5ZHzqA9zlvCo396jPW7RIQ7hMkIO8u0qGzdNwj"
    "msN38rpPvLZy73xeUN0iHD0iLH1Htr2/mWx8qYHtdp7/bwDHWoiAlJrF2/M9XWNTkZ3w2c"
    "LnMRkk0NxlC81IBaDAzm4Pa62+uDN/eHb/j2Gr+xSW7fAac+SxMUokDIv6j3GhPAF8whBZ"
    "jJipHWM8kzipKIh2XmLCuVl+3tLDXPUks2idHDFHOttsxRE+Isxp4oUhK/0WGzTtX5Gepc"
    "aaQEC8IEqSp0ZpPmDBg0bQ2FNKGjnAEOgAgI2Sqs96H5ulY/Edefxf3mAYIGMpziKoBNYD"
    "JqyKIGKxpzV7m5WfEBpzJqDM1xnuMnzLU7g56MFixRSPXcIqoNO1vWXX6ijvlU0ismZ3iU"
    "qCaCXGW6XvJnrXZ0dFqrHp006senp/VGdaE44l1pGuSs/ZdQIiEx7HJwv5FNFQrR7Cznkk"
    "p5Uyxn55JPmwzog9RwDvan280OpYIXpLnSbOgeic8BObtLOP/CrMXaO8Bn1LETDxBNIqD/"
    "hwn4uNTYB8IpT8+3PXPc3Im3qUHF3Y9lUm9px2bJrOtCTsuUgITYFFLTJdk6DPKUzv5eSx"
    "rJQSz5HlUazsVfndpiX+eFMqMblrgpYEc7hRr59EaQp3wwr34ze5ds0jyctJNSzl+aKs6C"
    "/UwDqYgDuoyjGWEtoae5pXV/Wao9p3CuUyhRdMn3BgIspTi1i743EPIccr5rUd5dWcam+f"
    "uh2DRj4g5enpsJQZbSnGUru5GgQ5MpyDCo5K5pssIKc5XBNitCZW1I4KqJDKyOK5KQlduz"
    "nxasgj7NU1GqZPB3mdXNyqzeI0P+Ea5k5yzAUgqbJfrd3noG74xTpXy3tx5LrPKXKgfCLn"
    "kJ0T2sZvkCCKdKjjBUY98A4TMyJPvUyt+9bichoeezRM0+rDLwH9CxuY2J1RRwBRjph1n0"
    "3IpYcWKAFz/MHv8HOOhguA=="
)

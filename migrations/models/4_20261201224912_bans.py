from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "bans" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "identity" VARCHAR(256) NOT NULL,
    "reason" VARCHAR(512),
    "created_at" TIMESTAMPTZ NOT NULL,
    "room_id" INT NOT NULL REFERENCES "rooms" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_bans_room_id_0c3e1f" UNIQUE ("room_id", "identity")
);
COMMENT ON TABLE "bans" IS 'One identity banned from one room (by id), with why and when.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "bans";"""


MODELS_STATE = (
    "eJztXFtT2zgY/SsavxRm2E4SEsjSp0BDm4UmHci2nZaOq9hKosWRUlsGMl3++0q+xHdjp8"
    "E4Xj9BZB1ZPp/8XSX/khZURZrx+hQS6QT8kghcIP6Pv/kASHC59BpFA4MTzeo3gcRqgBOD"
    "6VBhvG0KNQPxJhUZio6XDFMxtDQiCGAVEYbZCnAYQSqY6nQBKL+gU/7P3mTFe+wfgHvM5u"
    "B+vgKQqPwvIq/FLVSq8HtgMtvKaCbBP00kMzpDbI50Pua3b5IAiovuyNL37+IXUdEDMkQX"
    "8XN5K08x0tQAX1gVOKtdZqul1XaKZwPCzq2+Yv4TWaGauSBe/+WKzSlZAzBhonWGCNIhQ+"
    "IOTDcFl8TUNIdyl177Abwu9ix9GBVNoakJiQi0PQGvTZLl4WgsX/fHsixFpOUifJQ7TQol"
    "QtJ8qoZFwExM4Y8/W63Dw+NW4/Co22kfH3e6jS7va803eun40Z6Mx5Y9lMXZ4N1gOBYTon"
    "w52WtMNDxaGMigjbKE4WffkVdEBmdzqCdJwMOE5MAfMCwHl/U0QbgNniS8V6EIUSzgg6wh"
    "MmNz/rPVOUqh+VPv6ux972qP99oPkj10LrXsa4J3j2cdQYOSPCx7iI04dpZyOSnuNFsZKO"
    "a9Eim2rgUpVjhjnA4ZsijNb/kVhhconuogMkS36kBfu//s4AJPIXs8+NC/Hvc+fBTDLwzj"
    "p2bx1Rv3xZWW1boKte6Fl/56EPB5MH4PxE/wdTTsW3RSg810645ev/FXScwJmozKhN7LUP"
    "Vz4ja7TcE3iVsaOc5oJFoMH+Jps7ED0nQsR6vZPm53D4/aa4OxbkmzE7ZNEOZ4ehtrElxT"
    "HmT3nOoIz8gFWlkkD/iMIFFQDKmOA3TlDLNj5D66q8dt9XSpDu/X/ot/UfFn50+MmK3Qe9"
    "dnvbd9yWJ4ApXbe6ircoBqcYW2aKhl3Td6adFahFsggTOLHPEUYs4O6x+hzrCCl5Cwa2QY"
    "9sNHnNOYXqm+6tLrLxs2IIfvyrkkSBEtgE4tN9M33oHtfP5DMQF7VAeYGWCKdYMBgy+3fc"
    "Ao0BC8Q/GO7PaGjvFqQx6s7eS6z+/IXkNTJuzG91z+7f/Fuf0tFZXmthpxrCb7UkYsrxs6"
    "qy9LbMCPOmpncKOO2olelLgUdKLqeKCYeMD6m4Njt3/1YoFnofeWP1oeet3+xS1fSfhPKr"
    "f3UiEsN7OQ3EzmuBmhmM+f5VrCa0CBJAvbj3aWYnv2GwS0AeAW4tmSKZAqhbOuA5lTwj5Y"
    "Ld8yy1fFhhOkyPlzgLHg6rkA23djRVR6y4k0ScyblRh9hVDFJYsaz0XzVsKwUO4tGADnyc"
    "EFkXUuLlsuzqVtSzk5X8Jnx7jOlZoLrrUypeisxGhMUs5NmCan4cSDZcy79exSrqJhHpsb"
    "wKlwvAE/hBduGj+sku4PYi5kX8KMN0+pptF7wOYI3KPJnNJbI5p52/bgT+fe6uxakdm1Qp"
    "MTJaM2WKdsZClTNpKrlI2wYwIVhSsmm6JYhvv8tYlo8wDboSEKjKaX5kTDSs5oWvr49+nl"
    "4OwE2OgbMh5d9IdcqvQWkRsyPB9zWUxZWMm8TMRtTUq49zwCMPK8AhFg9bz0dpaafTu5ZN"
    "+OVOwd0hbxbvqTZC8SHPUKcN3Noni6yYqnG1E8ROQL8q/rEKx6TG9/VStzfqvY6ChtW5sf"
    "VVxk1HxeD6WQzW3BNe5Pq29iXcNjFGheka4ct5p5zWv/6oyjToCNviH8d7PZ6VgN4p9NDG"
    "s3i/ZJVj5xusfW2fnKtmFc9bTP9vW8hu/QLeZrOB/VIdgzMV2lSjlaLNlKFgl2auZJMkZw"
    "xWn7o8auJBpVJDIHpo42IDgWWxzJrV3hWLwf/vxMDorjoMUx3NkZhhGDIskSZXaMHpKo9W"
    "GqYO/Sann9L+NAGc9Vt3sfel/2A6W8y9Hwndvdp57PLkenMdsSzIQQ52nvz0MX6PdhVXNn"
    "ktnrG7y97J8Agbwhl4NP/H9hwcvg64Wyvjm0Shy0rsGFlUp9zCGZav6A6ohoK0cN7sg+Ak"
    "djp24jMJfqhlIPImupl0XqMbtHrNlHqsEvV6VMOUEQqiSn1yw3ODNwya3ZBWZ2oRE75trZ"
    "0G8PybilQKrYxG/9nmKCjTlS488J/N5wmc8GuIUwZ7T6YEB9MKAwYp853RFY31npDYAqeD"
    "Sg2criPfNeySXIVsSD9imPnKY+iKygqd9d0x716BCncBMh+3H11t+ySTiH9+YthfR4+dRB"
    "n19cIQ0yHLsLOPVg526+5ZF9fo/P6e9e89g4ztG12lM9XIP32OBLLq8MMNO5nLg7Gvn0yo"
    "l1VlUMDOZUU639dKLFKoYZr8Ad1LDKx0j/usvW7lB/8WXniuL1F19e+ggiNgxzIwMfANZO"
    "XOlMvF/Ic/EMJn83tLxSDiJrR67MUrasKNpQ0BFw/UqXWtj194Xq7wuV5RBT+Q4vfbbP7Q"
    "zIhD5IMeFS4PpBWtjknACS8bprrsIAukPiCz+2WIEIanj0gtU3gN9Rw0h1mwSPPBDi41L9"
    "gIdBSsKXhLY0bu5SwVKn4jjHJsWCOmYqKmayFkXOzat+TOXqC8+S+LYZSz4alcZz8aeh6l"
    "rOju9MK2BF26XlfHrDj6kezdtfzO7O9bR9UWmWMh5fmX1nBR/B0ZGCOKGb5L1C0AqGyTu6"
    "UynL/rQlXGkUxii65J3OPkglrHbRO50DkUPOdy2MrfOPZU5JQcbEqaE8e6n9kMrYsq3tod"
    "agwWSk61TPo7CCqCr4ZkWorJLsZ+0hHStzKSZl5Vw5SEtWQa/PU1mqZPLrz9yUa6/oHdLj"
    "v6uVHJz5IJXwWcJ18E6mOngnpQ7eiXzxhr9UORh2uleQ3WYjy2Fv3is5w9CIHPfmd2Qo7u"
    "spf12PhgnHgDxI2O3DCgP/Ag0bu1i2SiFXkJFuzMJ2K+TFiQFe3Jg9/gd5w6iA"
)

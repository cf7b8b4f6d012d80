from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "lobby_tickets" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "ticket" VARCHAR(48) NOT NULL UNIQUE,
    "identity" VARCHAR(256) NOT NULL,
    "name" VARCHAR(256),
    "status" VARCHAR(16) NOT NULL,
    "reason" VARCHAR(512),
    "role" VARCHAR(16) NOT NULL,
    "metadata" TEXT,
    "attributes" TEXT,
    "ttl_seconds" INT NOT NULL,
    "knocked_at" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "decided_at" TIMESTAMPTZ,
    "minted_at" BIGINT,
    "room_id" INT NOT NULL REFERENCES "rooms" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_lobby_ticke_room_id_3e2bab" ON "lobby_tickets" ("room_id", "id");
COMMENT ON TABLE "lobby_tickets" IS 'One knock on a lobby room (by id): who, when, and the hosts'' decision.';
        ALTER TABLE "rooms" ADD "lobby" BOOL NOT NULL DEFAULT False;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "rooms" DROP COLUMN "lobby";
        DROP TABLE IF EXISTS "lobby_tickets";"""


MODELS_STATE = (
    "eJztXW1X27gS/is6+dL2nGyXhEC59BO0dJdbCr2QfTnb9hjFFkQXx8paCpCzt//9SrKd+D"
    "1WcIyj6ktLZI3iPCNLM8+Mxv90JsRBLn19DL3OIfin48EJ4n/Em7ugA6fTZaNoYHDkyn4j"
    "6MkGOKLMhzbjbTfQpYg3OYjaPp4yTMTQnQsPAewgj2E2B1zMQw648ckEEH7BJ/yPl6M57/"
    "GqCx4wG4OH8RxAz+H/I++1+AqH2Pw7sHdby2gzD/89QxYjt4iNkc/H/PKlIwTFxWjkzrdv"
    "4pPnoEdERRfxcXpn3WDkOgm8sCPkZLvF5lPZdoxvTz32QfYV9z+ybOLOJt6y/3TOxsRbCG"
    "CPidZb5CEfMiS+gfkzgaU3c90Q8gje4AcsuwR3GZNx0A2cuUIjQjq4gWVbx7LOL4bW1cnQ"
    "sjoZbUUSMcjDJpt4QtP8VqkE4Fbcwk//6vd3d9/0d3b3D/YGb97sHewc8L7yfrOX3nwPbm"
    "aJVjCUxOz0l9PzobghwqdTMMdEw3cpAxkMpKQy4uiH+sro4N0Y+kUaWMqk9MB/YFoPEepl"
    "iogalppYPgpNqGICHy0XebdszD/29/ZLYP796PLdr0eXL3mvV0mwz8NL/eCawH2Js48gJZ"
    "4KykuJtTAOp3I7Id7r9StAzHsVQiyvJSG2OWIcDguyLMzv+RWGJygf6qRkCm4nFH0d/bGF"
    "E7wE7OHpp5Or4dGnz2L4CaV/uxKvo+GJuNKXrfNU68v01F8MAv44Hf4KxEfw18X5iYSTUH"
    "bry29c9hv+1RH3BGeMWB55sKATxyRqjpqSTxLfaay8TaNwx4hJrN42tkCb4c7R7w3eDA52"
    "9weLDWPRUrZPBHuC2I5v7nK3hGgrT6L7gfgI33of0VyCfMrvCHo2ygE1NIAuw2G2DNzv0e"
    "yJWpdrqQ8fFvZLfFLx385/MWLBgn509e7o/UlHIjyC9t0D9B0rAbW4Qvok1bLom7006U/S"
    "LdCDtxIc8SvEPYeon5HRaD7E9h1ieVZp/HKpdeqKjhaTPRXM1DuP2HfckgQQyBESBuUhty"
    "FJVxqSXWlScvMRjPnyQF8AB9mY8oHy7dV6hs0xXFNG6pe4Wvm/34zV2kqrlS1mcFVrailR"
    "j8X6vEpIGFODgwq21OCg0JQSl5KWlHEKmnEK5P8KGEf99XMINgIvt1DYjKoAvJTQcAr3qk"
    "DcK0a4Z5za5p1an7hKS0TU38zfCvN3ghgUNkYW4CF6LDDk4jI6zOEyauDkz2GCFYiwfPnp"
    "6M9XCWbg7OL8l6h7DPt3ZxfHKcwh4/czmjGUszAXo56UMrir486Ya1HEb8LJAb7QbUlJGf"
    "pk4ZwskZXO6Vq8Y1LS8I6t5h3R4xTz4dZQc1LSqLnVahaMkbPW05yUrEHNW7RjbZuWJ/xH"
    "FSi5jMVLiK21GbZMp03SeSaEY0I4JoSzOoRzzv/r5MRuZHu3LGjj8SaFYM3UJzaiFJAbGT"
    "KhyL/HNu8LqfxMRJCE8mYEMMuPyyiPsDoEoxRxKaOjteT6e/0qZD/vVcyC9EO6vzi6MvNd"
    "FajD7hoyThth9MYI+myEIFvDxEzLGl+i1VYm31/99TKSkpJGza1Tc8b4eh5b4WLGRuTxiD"
    "E0meYmfCQ7lFoPRHblU072VbAjQglhBUDAh8X3yJ8vjICwASMKfP4VCLiYMlpoUjxlsCoJ"
    "HshzpoTPwliSRxd86UTfZJmsj9ZmfaRUV9U+SYlpaKcMdqpkgOwUZ4DspI0UdI84YBT9rT"
    "bfE2I6OeoNEyQSM4UpHvXXcG7vDyrM7f1B4dwWlzIRyGgzrMg+xSR0mtS1RcCCtBkOmJMz"
    "awtRTUlpRKfWBizyfeIr7XWRgA4h8gac8fDJXstHS8saL611Xloi2RI9ssi5WUPbOeImxN"
    "dmfcc9OiUjNiWo047fgBlbEpWKgK0hMhXQGu9jA26ZQqrGqFKTsU1xqpQOCsmnuJZWsk9L"
    "gqc6/yS9TsCIPMEeefuHYMr/5CoAM49hN2KOkNPlQ2EXOYD4gN7h6RQ5+UxUPcOuwUlF0d"
    "ulNy0pKmEvy0civRXJq0Fnw161l70ylMpz55yoeFJRfw0plRqDyEkOQImzWgg0h3AnXLs7"
    "zcBc+3mFeGhGjbpqOHt7Z7NLR238Sit9wrYtHjo5hbYLuRIca6R0tjUppR+1tpENIQJN2s"
    "mqT1ZG2HAtbX6sTGS24cisqisXlzJORF2EVjR/ayC0/kCjMSF3J7ERt0wjVRmt1EOfz2hl"
    "ZnxtnOFJNJqu8MaedFW2MONpWD55yPE2jkPpDx8vkQvlL1mBeiwBTRPcv2+eWg2maiGvup"
    "jJK0lVOSdUCVVRVgkyYI+hdyvoTewBzKisvBQUW3rL73oyEtwnGM3D/H+uMv4M+iWE6pOH"
    "rUKoxgr6GTq0nXSoMhH6FAo0bfr/MPgb/rMpd9ek7G0wZU+1SMuTCrS0DdymK4UQ2575/l"
    "opUSlRQ4a2mrUxBZO1VbPC8aRMfg7OK82k7vJpmJzTgM93Ffo6nUK3b9GjW8Hzo/HOK32/"
    "IXe2XEgZuOZy1+CW688DL4P3QjxwV80BvVdZ166yVM2Hv38UR+2J0c5iF0woTT0hJS6lTU"
    "T5OXjk58na+wx9hm08hR67QpQGcGWWmpxepcvNdNmfzw0poMA3cZ14yBYt4tinWDli43WD"
    "t9P8l2CxqviSLbrBPl9vKL71XokEPRfBe5TPOdU3dOXq4eHvDzlYF90wdR7KrG1PXNuoWi"
    "SSalovpH5X3NQGN7XBNYD3jv80FXij/g0mK4p4psP3+04jKNefrbgVGaFi70dbC3Fw92sQ"
    "OAlBk1vVNvomruPIgFTUcEzM6LfN+nUwDZ0US/19CrnC+pkA9Zuxwiu940DO8lKLisuhJ6"
    "W0oT9qS6gPAOLelFJ1/6SUDtO36ZhdDvFQcUrnSOqUILrJCrsRbFm016q0GyPatgzrqrmJ"
    "OXOtTQeaL5FNfCf4oRlGdHmxW0aE+lE3lXQ7YU7QoOJdkAcHKTjD9+gjZkFkxUdTIupBAt"
    "4giMr/QB8Dipj4HBxpy4nL1Dt0ZfozIiLMUeTW5t4Fs0L1sEZcyBClKy3MxMOgknVnPYnK"
    "a9ve0MTR43BHUeX8k2I6mJ2bntPmjYqbPuE9czCxiOfmxFeOCXER9PJxTgqmsB5xyU2BvW"
    "hp1os6vrg4S3hRx6dpN+m3T8cnHH6JPu+EWWJ3NFW6fzCejRuzayk5LmeY1DZreDZ11sxn"
    "TUqaB7nVaqYIeRZ3qrkXq7hJpiTNLqmwS95gV+2VrQuBBqO5X751nuEB2gShW1D5txhurS"
    "r/NoF2S/Ix5TvW8vjG8PxdCdXIe1RkGY8k+QdsF4uDwCA8vvEWXAfu2TWAngOuvdnEimVH"
    "8uYb4rrkQR7CfQgKFNAsz1j34CZNvF2plI1morUM2mQF8irFXPaKi7nsZYq5QFu8Ps8qPj"
    "t6wh+bTAgp6fgnh2iymN5s5GJbccPtfP7t+Oz03SEIpL96w4uPJ+dcq+QOeV+98w9Drosb"
    "ll5knoeNkTclTFPBfKs8AhlBHTblVGWjKtX4B8XF+AeZWvwhaJP8nIyVYE8KsjI0wPqgys"
    "JzULzwHGQWHk8kh6nP65SYfkjXP6vtMf8q5Xpdcanm0jF6m7VQGq54ISZrPId6nd01PUaD"
    "2yvy7Tf9nur2enL5jksdgkD6q8c/93p7e7JB/LHOxlolZFccsMuE6wSmwZqtFq9Ly+m3+t"
    "S/zosj2HeYqYZGU2IbQlqnaD954GCoQLwQ0A7c+vdQUTpubgnqncxU0nUzcs1tpfs725Ky"
    "6yBBy8x8tAbAubLNgdzfFozF8xEnvxQgzhNtDuG9rUEYMahaJSouo4Mx0XSMoiwbaLVp/R"
    "yZQR3suNGdVDapT9+fnRwCIfnVOzv9nf/thgHE5zakU5S6wqqSJ2pOs2RqJsZzvhXizAk5"
    "E2VWiDK7ZJT3aoZStBcyBmkFpE3xt+JlhP9A50KkUoZlv0r21RYlz4TWiEmR+qG0npMytS"
    "hV15L0hjMEKeoU5DgEF7urEh24EcX7KaU7vKBAkiyHMsXA4+MCivx78e5GzMLXN16jxynm"
    "QPNpfd3lbQ7yeduU2OProkSHOoZ9QorD89ZxblE0vsajJCW5D7mvtC/hqPNfZl+bS6MF3D"
    "FiTzwSapGxhYhOp5QbjowtVydVKyApqaEVsL27fmDstWjbLykvmTruvmLrVy8oGZ1wlomJ"
    "OGSgwmqPwZDByR1R4VF+vsEepuOiN0E/bTjlk9OxY0WmaqSpGqlDeNQchm7sMLQ5zajr3m"
    "5OM+quYQXrbTkVykNAKi9uyK/6vZ1PebMvb7hCkOUZurK91MKlvIeCZRuVUn5Bwa3P9STe"
    "nxe8aoHboi9Hc97h1aEsZC4GBmPiOvL8jWiRyXP0BbiHLnb4GPnGbu3fkGP/flnQUovS0N"
    "+ecsbHlA6qlyootpBN+e9m6lNjSmdrbfAJQWPEtW6Ljyt5LH7D4hX3KlpOShpDrs1alrso"
    "WlPRGWHzSLdf2dYdUtogE0INZsN1Gtkfd6vkg+8W54PvZvLBJTGkXuXWVLdNEKEZZ3NVkH"
    "mtqrZbCG6RB9nNK2fbvjK2V/gBnZOCdwguL3ZLvVLeja9xvF/llAvZG4yhIJgAmTHx9vbr"
    "zxdXQ/Dzfe9nvmiOf5Zdrt+CAKrF+92Xr9z6ifua/IaDXIq8BIzNfMkT0jG8CMvqGQL5j4"
    "yJGkRRg5K6tVsVt25SE9tuQrUkbP0HdPmiURK4TnYoXUIfZFfF4PWRXKGQI9aoYIDXQOQk"
    "yiXs6tejn/p7+6KatyDbRgj6yA84N4ApoIzvzzkR7JrGNGV52hWrDo5CjyHNSaBaVSwjkj"
    "J70MrI9RpVMp5aIaNle4upkKEdv2+OgfwANtX2Znway3n7LOegguOJ50xJwJhkbedUl3Lr"
    "OehsobB3dftZnMWw0QsKfrs84yYuFK+4sRG+R1QavOheVqnEDEB6hxxwQ/xuaCDnms5PHK"
    "5mq7ksyKqlQTeoUhJnUFwSZ7CzilSY+TlBmWKcw+46xrF3BlXyEUW34ki2vJg6bSAfkSzG"
    "JbWMFxKmLMN67wJUgnshYNBWRzt+mwrLSEpMB+RTxXJ7VRxF3qu4XG4vWwjKEz89z1MsKx"
    "AQk2qwREC0Z25thQAHU4nbeq8lTovqN8M3kvdFEferlcrfLiU0tEk2ckRi6qN7TGbUUgc7"
    "R1S/ib1Z0NdKg8pKm5y3tjERhlb8IdS81hkVB4maaT7Oe4WQygmVixkbkcf3wWjz7dV+s6"
    "dTQubt1OPYdYqZueB6twothxddlc5jS8deFEQRyhCZOSLmjJ23gH+ji4NkHdEU1lnh4wo6"
    "TWTMlB/MfuK4yie0pz4Rb91Y54y2OapSbyirJFtITArVl1zHZLTjUjdTwkUiJkFSxjmS0t"
    "Bx0eYIfcuM5AZmdFDRQ23diMvoB3P9kzl6wUCZn1C2U+bLa1PBtuEkkDCiuY67lhLV0F/b"
    "0rqQVaqBTuHcJTBnoSuOFcVEtNi1mw4XJTwHxWctLWsosLZxI4nEUcbE+0dUqrLHRbTZy2"
    "qrxu5Cyizl9yInpXSwzZpYslqSVXaEfGyPOzmUVXilW0ZWwWWfVSxVMfjm2EO7jj3cI58q"
    "5lrERLSwWdJh6L1KYei9kjD0XubUA3+oFBAOu2uIbm+nSgIi71XMMOxk3srHv5GhvJfc/v"
    "vq4rwgLLYUSZt92Gbgf8DFdBtPPZSAK8Ao38zS+1bKihMDPPtm9v3/5k7ivg=="
)

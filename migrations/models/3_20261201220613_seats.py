from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "seats" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "identity" VARCHAR(256) NOT NULL,
    "issued_at" TIMESTAMPTZ NOT NULL,
    "held_until" TIMESTAMPTZ,
    "granted_until" TIMESTAMPTZ NOT NULL,
    "room_id" INT NOT NULL REFERENCES "rooms" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_seats_room_id_adb72d" UNIQUE ("room_id", "identity")
);
COMMENT ON TABLE "seats" IS 'One identity''s grant in one room (by id): its seat hold and its tokens'' validity.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "seats";"""


MODELS_STATE = (
    "eJztXFtz2jgU/isav2wyk+0QAgmbPpGUtGxS6CRs2+llXGEL0MZI1JaTMN3895VkG98dmx"
    "IXXD+FHJ0jy9/R5dzkH8qc6siwXryDJsMaXkDCbpBlYUqUU/BDIXCO+I8MrgOgwMXC5xEE"
    "BseGFFv4/KrlCEgGOLaYCTXGeSbQsBAn6cjSTLxgzpOVIUFAo4QgTVAAnQDKKYH+DsDEpH"
    "PwL8UE7FETYGaBCTYtBiw8JfuAUWAgeIdeiOfpVOMPxGS6+a5tgr/bSGV0itgMmfwBn79y"
    "MiY6ekCW+PezYlI6995fxboQM9CEqZApXwXz4ladYGToIcgdPklX2XIhaX3CLiSjeKexql"
    "HDnhOfebFkM/4EjxsTJqhTRJAJGRLdM9MWYBPbMFwdefg77+GzOC8QkNHRBNqGUJmQdgbg"
    "0xRVHQxH6k1vpKpKTJ2eREANLokrQkwFPlRLvv1UDOHP5mHrpNU5Om51JFSctKKcPDqP9o"
    "FxBCU8g5HyKNshgw6H1IAPqpWE6vkMmsmwWom48gFHcfVQ3F5g5/BBNRCZshn/97iVgeL7"
    "7vX5m+713nFrXzyQ8oXqrOaB29KUTQLo4GxFhGG2LIJuUGYzEHsEH2N/eykd5Gb7OAfKnC"
    "sVZtkWxln+LYCxx78Wvu4E/Y3gveWvVgRej7+86cv7hkSHpjeWZ0b5MA/Ih+kYH8Yg5uNn"
    "habwSqBEkMXZj3YWYmf0wryIwfyKI8XwHCVDHRKMwK27ki+8H7u3gWTgPOq/7d2Mum/fie"
    "7nlvXdkGh1Rz3R0pTUZYS6F9XJqhPwoT96A8S/4NNw0JNoUotNTflEn2/0SRFjgjajKqH3"
    "KtSDmHhkjxTSsWdAFtRwQKzW7zbrV8eW66SoJoKW42nl3TIThatnAmzejBVe6S0H0iYJKy"
    "vV+4pIPe2GbeqcajwXzBtxw3xYExzgnNAmSJYH75Y7uiJ0MLlN9HODsMXRvqAmwlNyiZYS"
    "9D4RNqWWZGO5cZ9r3l0g4LNjWD96k8qj+vuaCe9XoZekucZ/cAAQc/bb7s1591VPkcCP+Z"
    "K/52a4GtKAaKFNGqGseONN8+Y8SoEETiVI4m3E2ANKUBKCcpJ+kBWGEy+WM+7WBYIZaAbm"
    "vrkFNH58cD2/BN+EFW5b3wB3PsA3Ys/VQMCMkyfUMOg9YDME7tF4RumtFY+8bbrzp2NvdX"
    "StzOhaqcGJLYM2ZJi0GzkMk3Yj1TARTeETFGoa35gciBIR7vFlE9vNQ2hHuijRm17YYwNr"
    "Bb1p5d0/Z1f981PgSH8ho+Flb8C1Sm8R+UIGFyOuiwmLbjK/xuOWgxLmPfcArCJLICZYPS"
    "u91cyBdquZirZoSkR7nmymPwn2PMVQrwDWnTwbTyd94+nENh4i4gXF53VErHpIb35WG/gO"
    "3WKmFsxRRcSeCekq5arQfMGWqghxUbuImx+TK88TPW7siquvI2G72yZaA+BE2fJAbu4Kxm"
    "J9BD2kAhAniZaHcHtnEEYMCjcnjuwIPaRBG5CpwnmXFU3vfRyFAunedrv3tvtxPxRMvxoO"
    "Xnvsge35/Gp4lpAYtFOMjKe9G1+6RMcG64Y3ktxuTf/VVe8UCMkv5Kr/nv8WJ/g6bkwnj6"
    "2XburFLL1I3KXArpIkWkfBo5uKG+9aI2sXltxA4m7bQrQKf0F9SIyluw3uSCbP3bEzE3n2"
    "Ql9T62HJWuvbovWE/K0cfSwf8+vyBBk1vJFcTnbWYI2q3St+ml1i5oT6sXtcuyW1TpeMnx"
    "RIF2W08v8JJtiaIT25UvfnustdneuFot3e6tLcujS3NGCfOdwRmt954Q0JVbA497CZx3rm"
    "XOlJgGbMgg5sHgWP+rBkBY/63T3a4xYd4hCuo+SgXF18t20aLmC9+VMh218+c6UvLq+RAR"
    "lOrMPLvFq1m6s8Vmnz+Jz27g33jZMMXUnPtHAtzlHAsvXuq/xhganJ9cTNUXl1TJqme+Ml"
    "Z9g/lbfFRMdgRg1dVrQIikw9Wn+AO2hgnfeRbOxu/AkJ9q9j8IrG1f2brz9TNXOGp7+L7f"
    "tXs3l0dNJsHB132q2Tk3ansTKC401Z1vBZ/7UwiEP729MWcn3HqpxLQNiy7LUO+JBgbcRt"
    "3REfVPJMvIPN14ZRVMthydqQ22Yty1MUranomHC9pLda2TJmUfx2QX2roMitgji6a90m2E"
    "FwC10j2L7rAx+cyvk+GdMHJcFdCrUfZLlNbg2+ileshRID6A6Jb2w4agXCqeHeC9ZfAv5E"
    "AyPdIwkcuSPE+6XmAXeDtJRveWyo38KpgoVJRUH1OsmC2mcqy2eSkyLxUEj3mYIylcsvPE"
    "vg20Es/XJCFs7l30eoczk7XplWwox2UsvF9o2gTPVg3vxk9irXs+qisk7KZPnK1J2VcnIG"
    "ZjzSEAd0nbhXRLSCbvKOVirlqU9bwKVBYcJGl17pHBCpxKlddqVzyHMouNaisnX8cZtDUp"
    "AxcWuoSC11UKQyZ9nGaqgNaDEVmSY1i2xYYakq2GZlbFlbUs/aRSbWZkpCyMptOcgKVkGf"
    "56koVTr49YcmtqtW9A6ZyV+2SXfOAiKVsFmiefB2rjx4OyMP3o59c4IvqgIIu+wVRPewke"
    "daPedKjzA0Yhfr+RMZSvp+wd83w0HKNSBfJGr2YY2B/4CBrV1MW2WAK8DIPsyi51bEihMd"
    "/PLD7PF/CG/jCQ=="
)

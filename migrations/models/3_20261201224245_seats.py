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
    "eJztXFtz2jgU/isavzSZyXaAhIRNn0hKWrYpdBK27bTpuMIWoI2RqC0nYbr57yvJNvgiOz"
    "YlLnh5Ao50ZPs78tG58lObUhNZzssP0GbYwDNI2DVyHEyJdgp+agROEf+SMesAaHA2W84R"
    "BAaHlmSbLefrjscgJ8Chw2xoMD5nBC0HcZKJHMPGM+ZdWesTBAxKCDIEBdARoJwSWu8AjG"
    "w6Bf9QTMAetQFmDhhh22HAwWOyDxgFFoJ36KW4nkkNfkFMxutf2iX4h4t0RseITZDNL/D1"
    "GydjYqIH5IifXzWb0mnw/Do2BZuFRkyHTPsmJs9u9RFGlhmB3Jsn6TqbzyStS9iFnCieaa"
    "gb1HKnZDl5NmcTfoVgNiZMUMeIIBsyJJZntivAJq5l+TIK8PeeYznFe4AQj4lG0LWEyAS3"
    "dwNLmqbrvf5Av+4MdF1LiDPgCInBJ3FBiK3Ab9WRTz8Wt/BHo350ctQ6PD5qSag4aUE5ef"
    "QuvQTGY5Tw9AbaoxyHDHozpASWoDoqVM8n0FbD6ihx5TccxzVAcXOBncIH3UJkzCb85/FR"
    "Boof21fnb9tXe8dH++KClL+o3tvc80cackgAHd6tiDDM5kXQDfOsB+KAsMR4qV5KB7nRPM"
    "6BMp+VCrMci+IsPwtgHMxfCV9/g/6P4L3lj1YE3mB+eduXrw2JCe3gXp4Z5XoekOvpGNcT"
    "EPP7Z4W28IKhRJDF2Y+2FmLv7oV5kYD5NUeK4SlSQx1hjMFt+pwvgy/bp0AycB5033euB+"
    "33H8TyU8f5YUm02oOOGGlI6jxG3YvLZLEI+NQdvAXiJ/jS73UkmtRhY1tecTlv8EUT9wRd"
    "RnVC73VohjEJyAEpIuPAgCwo4RDbTr6bLF8TO76TotsIOp6nlVdlKpmrZwKs34wVXuktB9"
    "Ilijcr1fuKcT3thq3rnKo9F8xrccOWsCoc4JzQKjjLg3fDHV0ROhjdKv3cMGxJtC+ojfCY"
    "vENzCXqXCJvSUNlYftznii8XCvhsGdaPwaYKqEu9ZsP7RehFtdf4Fw4AYp6+bV+ft193NA"
    "n8kL/y99wM1yMSECO0QWOUxdzk0LQxjVMggWMJkngace8hIWiKoJykH2SF4cSD5Yy7tYGY"
    "DAwLc9/cAQY/PricX4Hvwgp3ne+AOx/gO3Gneihgxskjaln0HrAJAvdoOKH01klG3ta9+N"
    "Oxt110rczoWqnBiQ2DNmKYNGs5DJNmLdUwEUPRExQaBldMHkRKhDv8tUlo8wjasSVK9KZn"
    "7tDCRkFvWvvw99ll9/wUeNw3ZNB/1+lxqdJbRG5I72LAZTFicSXzezxueVPCvOcegFPkFU"
    "gwVs9KP2rkQPuokYq2GFKiPVWb6U+CPU0x1CuAdSuP4mmlK55WQvEQES8ovq9jbNVDev27"
    "2pjwSym9ozM8TrVNwlzleUb157VQ/mw0Dg9PGrXD41bz6OSk2aotTJXkUJbNctZ9I8yWiA"
    "yS7qnYrOGw+iqna3yNEo9XZBsnjXrR47Vzdc65ToHHfUP473q92ZQE8WWVg7WVR/ukKx+V"
    "7vF0drG0bZyvetpn/XrewnfoFvM9XAzqGNszIV2lTDmazthcFwF26hYJMib4ytP2x7VtCT"
    "SaSEQOXButALCStzyQG9uCsXg/wvGZAhCrWMtDuLk1CCMGRZAliewAPaRBG+KpwnmXlcvr"
    "fB5E0niBut173/68H0nlXfZ7b4LpIfV8ftk/U5QluCkuztPW35K7RLsPm1ZwJ7mtvu7ry8"
    "4pEJw35LL7kX8XJ/gm2HqxqG8BraJi3eXg4krFj7avUDMQ5VxD2cCmJYg0/oBmn1hzXw1u"
    "SR2Br7Ezywjcmbmi1KOcO6lvitQV1SPy7hPZ4N+XpczoIIhlkrNzliv0DFzy0+wdZl6iEf"
    "vHtV/Q7y3J+EmBTFHEL3+PMMHOBJnqPoFfWy53b0CQCPNX2zUG7BoDSgP2mcMdkf2dF94I"
    "UwVbA+qNPNYzn5WegmwkLOiQ8ih41Ec5K3jUb+/RnrToEIdwFSGH+Xalv5sm4QLW23IrZP"
    "vLZz73xbsrZEGGlVXAmY2d2/mWJ+r8Hp/T3r3mvrHK0JX0TAvX4TMKWLZBt9wLB4xtLidu"
    "jsrGVWma7g3nfML+qexVFQuDCbVMWU8nKDIZ5rwAd9DCJl9Dbeyu/QoK+9czeMXgovvv26"
    "/U7GWlxitm+5aSFE+3kHcdnuW0IGLHcVc64COMOyNu4474sJAn4hlc/m5YRaUc5dwZcpss"
    "ZXmKohUFnWDevdIbLWwZsyje27TraSrS05REd6Vepi0Et1AT0+Y1L33y+na6ZEgfNIW7FB"
    "k/yHKb/A4gHS+mFkoMoDsk/uHHEysQTg33XrD5CvArWhiZAUngyB0hvi61D7gbZKT8k9Ca"
    "1i2cKpjZVLRzrJIs2PlMZflMclMULF4N81Quv/AsgW8PsfTWqCycy++G2uVytrwyrYQd7a"
    "WWi+mNME/1YF7/Zg4q17PqorJOSjV/ZerOSm7BsZGBOKCrxL1irBV0k7e0UilPfdoMzi0K"
    "FYouvdI5xFKJU7vsSueI51DwXYvz7uKPmxySgoyJrqEitdRhlsqcZWurobagw3Rk29Quor"
    "CiXFWwzcpQWRtSz9pGNjYmmiJk5Y8cZAWr4HLOU1GqdPB3f3OzWbWid8hW/69WunMWYqmE"
    "zRLPgzdz5cGbGXnwZuIfb/hLVQBhf3oF0a3X8jR781npEYZaot2bX5Eh1b+n/HXd76W0AS"
    "1Z4mYfNhj4F1jY2ca0VQa4Aozswyx+bsWsOLHAbz/MHv8D+dVLnw=="
)

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
COMMENT ON TABLE "bans" IS 'One identity banned from one room (by id), with why and when.';
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
        DROP TABLE IF EXISTS "seats";
        DROP TABLE IF EXISTS "bans";"""


MODELS_STATE = (
    "eJztXG1z2rgW/isavjSdSdtAQ5KbfiIp3XKbQidwd3d223GELUA3RqK2CGF289/3SLbB78"
    "GEOMbrTwmSjiw/Rz6vOvqrNuUGMe23F5jVztFfNYanBP7xNx+iGp7N1o2yQeChqcYNMVMN"
    "eGgLC+sC2kbYtAk0GcTWLToTlMupaz1GEDUIE1QsEZAxYqCRxaeIQ4fF4Z+D4RJGvD5ECy"
    "omaDFZIswM+EvYW/kIg+vwDMrGO5ltzujPOdEEHxMxIRbM+eefNUkoO72Zaz9+yF/MIPfE"
    "lkPkz9mtNqLENAJ4UUPSqXZNLGeq7YKOO0x8UmPl+oeazs35lK3Hz5ZiwtmKgDIhW8eEEQ"
    "sLIp8grLnEks1N04Xcg9d5gfUQZ5U+GoOM8NyUHJHUzgLWbTVN6/YGWr890LRahFsehQ9y"
    "t0nnTHIalmorAMZyCW/+02i8f3/aOHp/ctY8Pj1tnh2dwVi13mjX6YOzmDVazlQKs84vne"
    "5ALojDdnL2mGx4UDRYYIdKMcOPvsuvCA8uJ9hK4sCaJsQHeMEwHzzU0xjhNaw5sf4U8mDF"
    "FN9rJmFjMYGfjeZJCsy/tq4vP7euD2DU6yDYXber4fRJ3Nc4WwTbnGVBeU2xFcbuVi4mxM"
    "16YwOIYVQixKovCLEOiAEcGhZRmD9Cj6BTEg91kDIEt+GSvvX+2cMNngL2oPO13R+0vn6T"
    "009t+6ep8GoN2rKnoVqXodaD8NZfTYJ+6ww+I/kT/dHrthWc3BZjSz1xPW7wR02uCc8F1x"
    "hfaNjwY+I1e03BLwk0jRanNBI1ho/icbWxB9x0NUejfnx6fPb+5HilMFYtaXrC0QlSHY9u"
    "Y1WCp8qD6H7iFqFj9oUsFcgdWBFmOokB1TWArt1p9gzcB2/3eK1rWWrhxcp+8W8qeHd4Yy"
    "Icgd7qX7Y+tmsK4SHWbxfYMrQA1LKHN3ioZTU22jVtTMMtmOGxAke+hVyzi/o3bAmq0xlm"
    "ok9s23n5iHEaMyrVVp2tx2u2Q5DBdgUsGdFlC+IjZWb65jt0jM//c8rQAbcQFTYaUcsWyI"
    "bt9hoJjkyC70i8Ibu7qWOs2pAF6xi53vu7vDfJSEi98SOTfftvMW6fJKLSzFY7DtVkW8qO"
    "xXVLY/VlgQ3YUSfHG5hRJ8eJVpTsChpRlT+Qjz+g/mbA2BtfPl/gWeC9hVfLAq83Pr/tW5"
    "P2kwH6vpYLyvVNQK4nY1yPQAzrF5m28IogR5Cl7id7C7Gz+i0c2gDhDvzZggmQMrmzngGZ"
    "kcM+soq/ReavQW3XSdGyxwBjictnAuzejJVe6S0AOWcxX1ai9xWiyi9YdPRcMO/EDQvF3o"
    "IOcJYYXJCyisVtFovzYNtRTM4X8NkzrDOF5oJ7rUghOhUYjQnKeQHT5DCcfLEN424tJ5Wr"
    "mxR8cxu5GY4P6EZa4XP7RqV0b9h8qvkCZtA84qbJF0hMCFqQ4YTzWzsaedv15I/H3qroWp"
    "7RtVyDEwWDNpinPNokTXmUnKU8ChsmWNdBMDkQxSLchs8mIs0DaIemyNGbns2HJtUzetO1"
    "b/+7uOpcniOH+jsb9L60u8BVfkvYd9b9NABejERYyLyMx60WJc178ADsLJ9AhLB8VvrxJj"
    "n74+SU/XEkY++CNo030x8Fe5pgqJcA67NNBM9ZsuA5iwgeJuMF2fd1iKx8SO9+V+sTeFSs"
    "d5R2rM1PlZ9nVH9eCyWXw23BPe4Pq2+jXcNz5KheiaWfNupZ1Wv7+hKozpFD/Z3B73q92V"
    "QN8p9tFOvZJtInWfjEyR5HZmdL24bpyid9di/nTXpHbins4WxQh8ieCekyZcr5AsDIAvGK"
    "oHTg7l6HkulMLDWZveDzLBHcCF1+qvTkaF+iuAaRYZm5RbYAOJY2P5Ab+4Kx/D78wa8MEM"
    "eR5odwc28QJgLLCFYU2QG5T4LWR1MGYyItUdr+fRDIkXri9uBr6/fXgTzpVa/7izfcJ54v"
    "r3oXMWc+5gn+4+Om9Zo6R6OaGqa3ko1N6s7Hq/Y5kpTf2VXnV/hfmkdFMKRDIfUMUiWOtE"
    "pwhoVKVUOSDDW8oNFj5tIVg3tySMOV2KlnNOYzY0uuBykrrheF6zFHc9TqI6n2l0sBp5Rn"
    "hNL06QnhLQoyrkCbfaHCyeJSV1271RLOlAI0BTFkhYT6PaKM2hNixBdhPG26jQsvvCyjO1"
    "tVdVFVXeQG7DPHkgL7e1N4A0QlrLuoNzaxnmFUcn63EbGgfcIjo6oPUpZQ1e+vao9adAQg"
    "3IbJfrrqXHXROJzBeltvhXR/+cKl/vTlmphY0Ngj1qlVs/v5lUcOUT48p73bB984ztBV7a"
    "kWrg0jtrgm55WNxhbwCczRyL0256oQWE6MJtw01GFF2aIyjfYrdIdNasAc6Vfn7OwJ1XU6"
    "e3fioLpO56XrO6ltz7dS8AHCyogrnIr3M3ki32EO34aZlctBysqQKzKXlRYlWzI6Qlx90o"
    "VmdnV5U3V5U1EqxIpXGdanC9LlkjFxvtKq8zDVYYJh8PnBuI0rxdRoNMEy9oH4XCDwYm6+"
    "9foD9O6u/g6+58k7NeTmA3KgMuQIWcW1vk3pDbhBsGBgDng6cRVjz/OQJ1SOMQ/LjU+j8v"
    "hPpgpoewHtZL+I3M8oqJFtInIBynzUe56c2HftXpCM6m/YBKGRklMNDkgVoQs1NGNetaUk"
    "FDGkjHImeItk3lyJsP7n1hvwYuUddTIONCTYIpYTDkLURrYA/RyTXN3RnFV5bbHSqE5Jww"
    "TbkyzqJ0hV6aBHk6pbVLs9tdKtYLqlqnQrXei5Oqr4L7CpApnsynIuKZeLYjk7N7F02JDf"
    "xxrO/v50u9kZqdHV0EynEckdkXc2O7tLOv/SrKXGBwRPNKkTD5BNMnjzykYwL7cOkXTK04"
    "8lPnHezOcTZxaXF3Rsc0KxStTmlahVmyJjObKfpnT297OctnMQS77sJg3n/O+32WNf54UO"
    "kBYsLZrDjnbOs2eTG36a8sG8+83s3UWQ5uGkacp4+tIUu+XsZ1pEJwDoNo5miLSEnuaelk"
    "dtUhQ3w0uT4xhBl1xe7SMphdbOu7w64Dlk/NbCtNWhp6L5+4HYtBDyqpIsBdx+ktLosp0V"
    "bpvYFhqxLB5zJU+ywApSlcE2y0NkFSRw1SIW1Se1mJCV23OYFqzC6zGPRamSwa8yq8XKrN"
    "4RK/6m9GTnzEdSCpslfPi+udHh+2bK4ftmJLEKH1UGhN3hJUS3frTJ9X0wKjnCcBS5wA+e"
    "KEjcfbj/7fe6CQm9NUnY7KO6QH8jk9r7mFhNAVeCka7MwnorZMXJCV5cmT38A/14Woc="
)

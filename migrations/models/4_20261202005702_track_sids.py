from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "participant_sessions" ADD "track_sids" TEXT;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "participant_sessions" DROP COLUMN "track_sids";"""


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
    "kcM+soq/ReavQW3XSdGyxwBjictnAuzejJVe6S0AOWcxX1ai9xWiyi9YdPRcMO/EDQvDCt"
    "6UHUV1QO5TYfWoyrB90wRU+/dBQDZ52/Tga+v31wH5dNXr/uIN923ry6veRTh7EA08ZIl9"
    "BimrGOhmMVAPth3FQn2Btj3DOlNINLjXihQaVQHpmGCoF6hODn/KF9sw3tlyUui6SQmgh9"
    "zM0gd0I72fuX2jUuk3bD7VfIFKaB5x0+QLJCYELchwwvmtHY147nryx2OeVVQzz6hmrkGh"
    "gkEbzA8fbZIePkrODh+FDUKs6yCYHIhiEW7DZxOR5gG0Q1PkGMWYzYcm1TNGMWrf/ndx1b"
    "k8Rw71dzbofWl3gav8lrDvrPtpALwYibCQeZlIh1qUdKvA84qxLZM/gQhhGczLINrHm5yV"
    "OE4+KnEcOSnhgjaNd48eBXua4CCVAOuzTQTPWbLgOYsIHibjNNn3dYisfEjvflfrE3hUrH"
    "eUdpzQT5WfZ1R/Xgsll0OFwT3uT2dso13Dc+SoXomlnzbqWdVr+/oSqM6RQ/2dwe96vdlU"
    "DfKfbRTr2SbSJ1n4xMkeR2ZnS5eH6confXYv5016R26p0DKeTAiRPRPSZTqhwBcARhaIVw"
    "SlA3f3OpRMZ2KpyawRn2eJnEfo8lOlJ0f7Ej03iAzLzC2yBcCxtPmB3NgXjOX34Q9+ZYA4"
    "jjQ/hJt7gzARWEawsmSA/DRlMCbyzv848d1tTes1dY5GNTVMbyUbm9Sdj1ftcyQpv7Orzq"
    "/wvzSPimBIh0LqGaRKHGmVWA4Llap2JxlqeEGjx8ylKwb35HCMK7FTz8bMZ8aWXA9SVlwv"
    "CtdjjkSp1UdS7S+XAk4piwml6dMTwlsUwlyBNvtChZPFpa66dqtUnCkFaApiyMoU9XtEGb"
    "UnxIgvfnnadBsXvHhZRne2qtqlqnbJDdhnjiUF9vem8AaISljvUm9sYj3DqOT8biNiQfuE"
    "R0ZVH6QsoarfX9UetegIQLgNk/101Xn2onE4g/W23grp/vKFS/3pyzUxsaCxR9tTq5X38y"
    "uPHKJ8eE57tw++cZyhq9pTLVwbRmxxPdErG40t4BOYo5H7hM5VAbacGE24aajDirJFZRrt"
    "V+gOm9SAOdKvLNrZE6prjPbuxEF1jdFL19VS255vpeADhJURVzgV72fyRL7DHL4NMyuXg5"
    "SVIVdkListSrZkdIS4+qQLzezq0qzq0qyiVIgVrzKsTxekyyVj4nylVedhqsMEw+Dzg3Eb"
    "V4qp0WiCZewD8blA4MXcfOv1B+jdXf0dfM+Td2rIzQfkQGXIEbKKa32L1Rtwg2DBwBzwdO"
    "Iqxp7nIU+oHGMelhufRuXxn0wV0PYC2sl+EbmfUVAj20TkApT5qPc8ObHv2r0gGdXfsAlC"
    "IyWnGhyQKkIXamjGvGpLSShiSBnlTPAWyby5EmH9z6034MXKuwFlHGhIsEUsJxyEqI1sAf"
    "o5Jrm6ozmr8tpipVGdkoYJtidZ1E+QqtJBjyZVt6h2e2qlW8F0S1XpVrrQc3VU8V9gUwUy"
    "2ZXlXFIuF8Vydm5i6bAhv481nP396XazM1Kjq6GZTiOSOyLvynZ2l3T+pVlLjQ8InmhSJx"
    "4gm2Tw5pWNYF5uHSLplKcfS3zivJnPJ84sLi/o2OaEYpWozStRqzZFxnJkP03p7O9nOW3n"
    "IJZ82U0azvnfb7PHvs4LHSAtWFo0hx3tnGfPJjf8NOWDefeb2buLIM3DSdOU8fSlKXbL2c"
    "+0iE4A0G0czRBpCT3NPS2P2qQoboaXJscxgi65vNpHUgqtnXd5dcBzyPithWmrQ09F8/cD"
    "sWkh5FUlWQq4/SSl0WU7K9w2sS00Ylk85kqeZIEVpCqDbZaHyCpI4KpFLKpPajEhK7fnMC"
    "1YhddjHotSJYNfZVaLlVm9I1b8TenJzpmPpBQ2S/jwfXOjw/fNlMP3zUhiFT6qDAi7w0uI"
    "bv1ok+v7YFRyhOEocoEfPFGQuPtw/9vvdRMSemuSsNlHdYH+Ria19zGxmgKuBCNdmYX1Vs"
    "iKkxO8uDJ7+AdPStIM"
)

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


# Existing gated rooms carry their older fields over to `access` (models/access.py
# reads what these write; a row left without it is read from the older fields too).
async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "rooms" ADD "access" TEXT;
        ALTER TABLE "rooms" ADD "delegation" BOOL NOT NULL DEFAULT False;
        COMMENT ON COLUMN "rooms"."access_type" IS 'PUBLIC: public\nTOKEN: token\nNFT: nft\nCONDITIONS: conditions';
        UPDATE "rooms" SET "access" = json_build_object('erc20', json_build_object(
            'address', "token_address", 'min', "token_amount", 'chain_id', "chain_id"))::text
        WHERE "access_type" = 'token' AND "token_address" IS NOT NULL
            AND "token_amount" IS NOT NULL;
        UPDATE "rooms" SET "access" = jsonb_build_object('erc1155', jsonb_build_object(
            'address', "nft_address", 'token_id', "nft_token_id", 'min', '1',
            'chain_id', "chain_id"))::text
        WHERE "access_type" = 'nft' AND "nft_address" IS NOT NULL
            AND "nft_standard" = 'erc1155' AND "nft_token_id" IS NOT NULL;
        UPDATE "rooms" SET "access" = jsonb_build_object('erc721', jsonb_strip_nulls(
            jsonb_build_object('address', "nft_address", 'token_id', "nft_token_id",
            'chain_id', "chain_id")))::text
        WHERE "access_type" = 'nft' AND "nft_address" IS NOT NULL AND "access" IS NULL;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "rooms" DROP COLUMN "access";
        ALTER TABLE "rooms" DROP COLUMN "delegation";
        COMMENT ON COLUMN "rooms"."access_type" IS 'PUBLIC: public\nTOKEN: token\nNFT: nft';"""


MODELS_STATE = (
    "eJztXW132rgS/is6fGl7DtsNhKS56ackpbu5TUNvQrd7tu1xhK2AbozNWiIvZ2//+5VkG/"
    "yOBcYxqr60QdYI80jWzDwzGv/TmroWssnrU+i0jsE/LQdOEfsj2twGLTibLRt5A4UjW/Qb"
    "QUc0wBGhHjQpa7uFNkGsyULE9PCMYpcP3Ro4CGALORTTJ8DEHGSBW8+dApdd8Fz2x8vRE+"
    "vxqg0eMJ2Ah8kTgI7F/kfOa/4Vlmuy78DOuJLR5g7+e44M6o4RnSCPjfn1a4sL8ovhyK3v"
    "3/knx0KPiPAu/OPszrjFyLZieGGLy4l2gz7NRNspHp879L3oy+9/ZJiuPZ86y/6zJzpxnY"
    "UAdihvHSMHeZAi/g3Um3MsnbltB5CH8Po/YNnFv8uIjIVu4dzmM8Kl/RtYtrUM43IwNK77"
    "Q8NopWYrlIhAHjSZrsNnmt0qEQCM+S388q9ud3//TXdv//DooPfmzcHR3hHrK+43fenND/"
    "9mlmj5QwnMzn87vxzyG3LZcvLXGG/4IWQghb6UmIwo+sF8pebgbAK9vBlYyiTmgf3A5DyE"
    "qBdNRNiwnInlo1DHVEzho2EjZ0wn7GP34LAA5j9Ors5+P7l6yXq9ioN9GVzq+tc47kucPQ"
    "SJ68igvJRYC+NgKTcT4oNOtwTErFcuxOJaHGKTIcbgMCBNw/yOXaF4irKhjksm4LYC0dfh"
    "Hzu4wAvAHp5/7F8PTz5+4sNPCfnbFnidDPv8Sle0PiVaXyaX/mIQ8OV8+DvgH8Ffg8u+gN"
    "MldOyJb1z2G/7V4vcE59Q1HPfBgFYUk7A5bIo/SUzTGFlKI1djRCRWq40dmM1Ac3Q7vTe9"
    "o/3D3kJhLFqK9ISvE7g6vr3LVAmhKo+j+971EB47H9CTAPmc3RF0TJQBamAAXQXD7Bi4P8"
    "LVE7Yu91IPPizsl+iiYr+d/WJE/Q395Prs5F2/JRAeQfPuAXqWEYOaX3G7bqJl0Td9adqd"
    "JlugA8cCHP4r+D0HqF+y/7LMUdFeaI86rEnCIJ15rokIAe4tYFYgIMi7xybrC4n47HLTkL"
    "BmZmzSbCNUeoQMw3MTI7PIwKnOtHleGzOmdTvdoxJal/XK1briWrFBOfdsGaiD7gqakVux"
    "cSYIenTErJU1rJykrLZzGm3nMP3qrWfOxiX1NDdumlPG1/PYCoM5HbmPJ5Si6YxmGQ3xDo"
    "XWgyu6siUn+krYEYEEtwIgYMPie+Q9LYyAoAEjAjz2FQjYmFCSa1JsMthq6+JrCznWzGWr"
    "MDD82L+sy9dW+E28+bsmuhpJdCWmrqx9khBT0E7p7ZUwU3p7uVYKvxQ3UtA9YoAR9Lfceo"
    "+JqeSo17Lyl/ALzCSWeNhfwbV92Cuxtg97uWubX4qDC5fKsCT7FJFQaVFvxD4l7Fw6Jwww"
    "K2PV5qKakFoL2aZR5BUDizzP9aR0XSigAw6lnPHgyV7LR0vKai+tcV5adKod9EhD52aN2c"
    "4Qr2DCG/bEqTTfUY9OyohNCKqk8WswYwuiUiGwFUSmfFrjXWTAHZuQsjGqxGJsUpwqMQe5"
    "5FN0llayT0uCpzz/JLxOQF2R/hR6+8dgxv5kUwDmDsV2yBwhq82GwjaygOsBcodnM2RlM1"
    "HVDLsGJxVGb5fetKCouL0sHomkKhJX/c6avWoue6UpleekVLJTIgpyt4L+ClIqFQaR4xyA"
    "FGe1EKgP4Vawd7fqgblMDmInPwWxk8pAjIZm5KgrUu/usbfdraMyfqWRPmHTNg+VnELThm"
    "wSLGMklS0dl1KPWtuKQghBE3ay7JOVEtZcS5MfKx2ZrTkyK+vKRaW0E1EVoRWu3woIrS9o"
    "NHHdu35kxB2bkbKMVuKhz2a0Uiu+Ms6wH46mKryRJ12WLUx5GobnPmR4G6eB9PsPV8iG4p"
    "esQD2SgKYI7j+2T636SzWXV12s5JWkqlgTsoTqMXiYQArMCXTGnN7EDsCUiOOlbXGS9C27"
    "6+mIc59g9BTk/7MpY8+gV0CobjxsGUI1chpM06HNpEOlidBNKNCk6f/T4K/5z7rcXZ2yt8"
    "WUPb6LpMEdose8EH7QXwlwi4iC/p/DGEcQgvjy48mfr2I8wcXg8rewewT0s4vBaQJs1zTn"
    "nrdWSlRCVJOhjWZt9Gl7ZadZ4nhSKj8nyL3Y1OVTMDmnBp/vOvB1Wrlu36JHu4TnR6KdV/"
    "p+Q+Zs2ZBQcMPkbsCYzZ8DXvpFhR6Yq2aBzqu0a1daquLD3z+Lo7ZhtDPfBeOTJp+QEpVS"
    "JqL8HDzy82TtfYIexSaeQYdeI0J8uFJbTUavwu1mtuzP1oYQkOCb2Jw4yOQt/Ngn3zki47"
    "X90mb/dTHfVTzBFt1ij+03BI+dVzxBz0bwHmVzTtUNXYZ3EhVFgt8fcLA2uqXyPJTe2zbc"
    "24hcJJIoWi+keldcV5urp9qc+F8C47C/etkpW4H3jv00GXjD/jUmK/J4psX0fasWlKvPVt"
    "yJjFCu+9HOQuzf/RoETkxQ51Y1jb6JznFoQErOcERMz2+T59fCJHBSDPkKs5nC6pkA1Zux"
    "3Cu9Y0DOs1KLcr2vhJQy9EdlCfU+QMybyqCQ88N1cSkVlm/dMbsM4qHkks6QVClBdJsVdk"
    "PY0mivVWk3QrTtGNZlcxMz1lqTDjRfIdP1LP+HphjR5cV2ERHqhd1k0u24OUH8ind+Hhwk"
    "4ALfow+Y+pEVD81cXg8SsAZOVP4HehgQRPln/0hbRlym2qFL058hEaGPIjc2985fFbKHNa"
    "JCmihdaWHGHgaZrDtjIyqvabqhjqPHgUaR5fzjYiqYndte037JNllOb76+Wd/w1Vz9Ce+5"
    "hV3DdeyM+Mqp69oIOtk4xwUTWI+Y5LbAXrTU60WdDgYXMS/q9DzpJn3+eNpn8Av0WSdMY9"
    "pRV+n+yXg2ZsyuNclROc2kNnmG5zNrzXzWuKR+kBs9zQQhx2BONfNiJZVkQlJrSQkteYvt"
    "rLzgfFJ3IVBjNPfr99YzPEDbIHRzKv/mw61U5d860G5IPqZ4x1oW3xicvyugGlmPkizjif"
    "9WWNPG/CAwCI5vvAU3vnt2I94Oe+PMp0YkO5I137q27T6IQ7gPfoECkuYZqx5cp4k3K5Wy"
    "1ky0hkEbr0BeppjLQX4xl4NUMRdo8tfnGflnR/vssUmFkOKOf3yIOovpzUc2NiUVbuvT59"
    "OL87Nj4Et/c4aDD/1LNqvuHXK+OZfvh2wubuk352xw+e58eD64vD7mSdwWpmFO+fOzNOJm"
    "ucnKGXGZRyMlqIKyTlQ8KlOlv5dfpL+XqtEfgDbNztVYCfY0J1tDAayPymxIR/kb0lFqQ3"
    "J40pj8uk6IqYd09avanLCvkq7jFZWqL02js13LpeZKGHyxRnOr19G6yTFqVLvIM990O7Jq"
    "t391xqSOgS/9zWGfO52DA9HA/1hHsZYJ5eUH8lJhPI6pv2fLxfGScurtPtXv8/xo9h2msi"
    "HThNiWkFYpC8B9YGDIQLwQUA7c6nWo7/vIsGRLCRV2ibpJSZ6pN14Uf5Ag3uOCmneX4N15"
    "2cQng4ed3LlMqnpKrj5z8XBvV9LVLcQpybmH1gA4U7Y+kLu7gjHXAVHiVwLiLNH6ED7YGY"
    "QRhbIV0qIyWhXKq8KiTLjV7uNzZMW1sGWHd1LabTx/d9E/Blzym3Nx/gf72w6C58/tLCbC"
    "SRK7SpaoPsmVqhcaPe8gYerF5LSlJ2Hp6XJ8+Yub/UBrwJNbg0JsBbt9g9KZAh2pk9Z+ql"
    "nPSGJbFA9sSMLJBYIEtXKyTvyL7VWpJ0y1s35SCSgvCBD01rFI+nDYuIAg756/TRPT4IWa"
    "N+hxhhnQbFnftFmbhTzWNnPNyU1e6kkVw26QdPK8lbUblB9R4eGegmwUNr1S0YGg/7YMbS"
    "XgjtBN/JGQi0kuRFQ6N15zTHK5O8laAXFJBa2A3dX6vrHXILVfUPAzUYBgheqXL/EZnjkX"
    "qaI44EWC+pv+kP5ZKl5zU3y+xQ4mk7x3c282nPRZ9shBL13HU9fxVCEwrY+n13Y8XZ8vVV"
    "W36/Olqs+whPW2XArFgQmZV2lk12Hfzae83tdpXCNIswxd0V5o4RLWQ8KyDYtbvyBg7LF5"
    "4m809F9+wWzRl6Mn1uHVsSgtzwcGE9e2xIko3iLSFskLcA9tbLExso3dyr8hw/79uqClFs"
    "W6v29y6koXc6qWKsi3kHVB9noqhmNC5msp+JigNuIap+Kjkzzhv0FEDGRnOS6pDbkmz7LQ"
    "omjNiU4J60e6+ZNt3CEpBRkTqjFHq1WLftwvk4m/n5+Jv5/KxBfEkHzdYV1vOEaEppzNVU"
    "HmteoM7yC4eR5kO6vAcPMKC1/jB3Tp5rzVcXmxXeiVsm5sj2P9SqdciN5gAjnBBNw5BcxV"
    "vPk0uB6CX+87v7JNc/Kr6HLzFvhQWbwHz6FYvgTtF+Zrshv2cymyEjC28yUbpGM4IZblMw"
    "SyHxkdNQijBgWVhHcqbl3nTOy6CdWQsPUXaLNNoyBwHe9QuIU+iK6SwesTsUMhi+9R/gCv"
    "Ac9JFFvY9e8nv3QPDnl9dU62jRD0kOdzbgATQCjTzxkR7IrG1IWSmhWr9g+hTyDJSKBaVa"
    "YklNI6aGXkeo36JJvWJmmYbtG1SZTj9/UxkJ/AptrdjE9tOe+e5ezX1Ow71sz1GZO07Zzo"
    "Umw9+50NFPQubz/zsxgmekHA56sLZuJC/tIhE+F7RITBi+5F3VBMASR3yAK3rtcODORM03"
    "nD4Sq2mouCrEoadL0yxYh6+cWIenurSIW5lxGUycc56K5iHHuvVyYfkXfLj2SLi4nTBuIR"
    "SWNcUF16IaGLBaz3dkYpuBcCGu11qhQtb1NiG0mIqYB8onxxp4yjyHrlFzDupFxF5PCfnu"
    "UpFhUJiEjVWCIg1Jk7WyHAwkTgtt6LopOi6q3wreR9EcT8aqnCw0sJBW2SrRyRmHnoHrtz"
    "YsiDnSGq3sLeLuhrpUGlpXXOW9OYCE0r/hTTvNYZFQvxSl4eznqpk8wJlcGcjtzHd/5oT7"
    "s7+/WeTgmYt3OHYdfKZ+b86+0ytBxedJU6jy0ce14QhU8Gz8zhMWdsvQXsG23sJ+vwpqDO"
    "ChuX02k8Y6b4YPaG40qf0J55Lq/su84ZbX1UpdpQVkG2EF8Usq8dj8gox6Vup4SLQEyAJI"
    "1zKKWg46LMEfqGGck1rGi/oofcvhGVUQ/m6hdz+GqHIj+hSFNmyytTV7XmJJAgormOu5YQ"
    "VdBf29G6kGWqgc7gk+3CjI0uP1YUEVFCa9cdLop5DpLPWlJWU2BN40ZiiaOU8rdiyNQKj4"
    "ooo8sqqxFuQ0IN6TdVx6VUsM3q2LIaklV2gjxsTloZlFVwpV1EVsFln1UsVT74+thDs449"
    "3COPSOZaRESUsFmSYeiDUmHog4Iw9EHq1AN7qCQQDroriG5nr0wCIuuVzzDspd6HyL6Roq"
    "zXC//7enCZExZbiiTNPmxS8D9gY7KLpx4KwOVgFCuzpN5KWHF8gGdXZj/+D0yRNRI="
)

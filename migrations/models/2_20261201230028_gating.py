from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "rooms" ADD "nft_token_id" VARCHAR(80);
        ALTER TABLE "rooms" ADD "chain_id" BIGINT NOT NULL DEFAULT 1;
        ALTER TABLE "rooms" ADD "nft_standard" VARCHAR(8) NOT NULL DEFAULT 'erc721';
        COMMENT ON COLUMN rooms."nft_standard" IS 'ERC721: erc721\nERC1155: erc1155';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "rooms" DROP COLUMN "nft_token_id";
        ALTER TABLE "rooms" DROP COLUMN "chain_id";
        ALTER TABLE "rooms" DROP COLUMN "nft_standard";"""


MODELS_STATE = (
    "eJztXFtz2jgU/isaXjadSVMgIWHTJ5KSLZsUMoFtO206jrAFaGMkasshTDf/fSUb45vs2A"
    "QccHkKkc6R5E/yucu/SmOqId08uIYGwyqeQMK6yDQxJaVT8KtE4BjxHwlU+6AEJxOPRjQw"
    "2NdttolHr5gOg00A+yYzoMo4zQDqJuJNGjJVA0+YM3OpQxBQKSFIFS2ADgDlLb7x9sHAoG"
    "PwL8UE7FEDYGaCATZMBkw8JG8Ao0BH8AEdiPk0qvIJMRmufmiL4J8WUhgdIjZCBp/g+w/e"
    "jImGHpEp/v1eMigdu8+vYE2w6WjAFMhKPwTx5F4ZYKRrAcgdOrtdYbOJ3dYi7MImFM/UV1"
    "SqW2PiEU9mbMRncKkxYaJ1iAgyIENieGZYAmxi6fp8j1z8nefwSJwH8PFoaAAtXWyZ4HYW"
    "4LWVFKXd6SndZk9RSpHtdDl82zBv4hshjgJfqmk//VAs4W21cnRyVD88PqrbUPGmRcvJkz"
    "O1B4zDaMPT7pWe7H7IoENh74AHqilD9XwEDTmsphRXvuAwri6KmwvsGD4qOiJDNuL/Hh8l"
    "oPi5cXP+sXGzd3z0RkxI+YvqvM3teU/V7hJA+08rIgyzWRZ0/Tyrgdht8DD2xEvuIFdrxy"
    "lQ5lSxMNt9QZztvxkwdumXwnd+QH8jeO/5o2WB16XP7/jysSHRoOGuZc0oV9KAXInHuBKB"
    "mK+fZTrCC4YcQRa6H20txM7qhXkRgfkDR4rhMZJDHWAMwa3NOQ/cH9snQBJw7rU+Nbu9xq"
    "drMfzYNH/qNlqNXlP0VO3WWah1L7wni0HAl1bvIxD/gm+ddtNGk5psaNgzenS9byWxJmgx"
    "qhA6VaDmx8RtdpsCe+wakBl32Me2299N3l8Nm3MnRTEQNB1PK63IlDIXzwRYvRkrvNJ7Dq"
    "RFJG9WrPcV4nreDVuVniqvC+aVuGEerBIHOCW0Es784N1wR1eEDgb3Uj/XD1sU7QtqIDwk"
    "l2hmg94iwqZUZTbWPO5zw4fzBXy2DOsn91C5rZ5cM+B0EXqRnTX+gwOAmCNvG93zxodmyQ"
    "a+z1/5KTfDlcAOiB5apaGWBW20a1wdh1sggUMbJPE0Yu2+TShJgnJ2+35SGE48WMq4WwMI"
    "YqDqmPvmJlC5+uD7/B7cCSvcMu8Adz7AHbHGii9gxpsHVNfpFLARAlPUH1F6b0Yjb6se/P"
    "nY2y66lmd0LdfgxIZBGzBMauUUhkmtHGuYiK6gBoWqygWTA5EU4SZ/bSLSPIB2aIgcvemJ"
    "1dexmtGbLl3/c3bVOj8FDvct6XUum22+q/QekVvSvujxvRiwsJB5HY/bXpQw77kHYGZ5BS"
    "KMxbPSj6op0D6qxqItuqRoj+Vm+rNgj2MM9QJgXU8jeOrxgqceETxExAuyn+sQW/GQXv2p"
    "Vkd8Kql3dIaHsbaJnys/z6iyXgvlz2r18PCkWj48rteOTk5q9fLCVIl2JdksZ62/hNkS2I"
    "OoeyoOqz+svox2DY+Ro3pFhnpSrWRVr82bc851ChzuW8L/r1RqNbtB/FhGsdbTSJ944SOT"
    "PY7Mzpa2DfMVT/qsXs7r+AHdY36Gs0EdYlsT0kXKlNMpByMLxAuGwoG7eh2KxhM2U0T2gl"
    "pZIrgRvvxU6XF5W6K4GhJhGctASwAs5c0P5Oq2YCzeD3/wKwPEMtb8EK5tDcKIQRHBiiLb"
    "Q49x0Pp4imBMJCVKm197gRypK273PjW+vgnkSa867b9ccp94Pr/qnElqPqwY//F509rjzt"
    "GoxpruriS1Sd36cNU8BYLzlly1PvPfwjzaBEM6FFLPIFVkrLsEZ1iozFMZSxRkBDlXUJOx"
    "adm3En9ArUP02VwMbkmRxlxiJ9ZoWBNtyV0Pcu52fVN2XVKaY68+kmp/vRRwwvWMUJo+OS"
    "G8xIWMK67NLjFzsrh4rq7ntyWcIRnXFEgTNyTs/weYYHOENPkljJcNl/rihZtlnI+2u3Wx"
    "u3WRG7BrjiUFzndaeANMBbx3UammsZ45VXx+txqxoH3CI6OqD3IWUNVvr2qPWnSIQ7jMJv"
    "v5dnXVm7bDGaw37ygk+8tnc+6LyxukQ4alJdaJt2a38y2PFFE+rdPe7eIpalMRE5JYu15n"
    "oq1rcjJ+Gjhd6hJImxqMoHipAbUY6M/A3XWn2wPvHirv+PEavbNJ7t4DpzpUExSiPNG7Jv"
    "wWE8AXzCEFmMlKIdczyQtKIomLZeo0K5UXDe8sNddSizeJ0eMEc6m2jKoJcOZjT+S5E7+R"
    "slmn6PwCdS40EoIFQYJEETq1STMGDBq2hEKakFHOAAdABIRsEdb92HhbrR2Ljy+Iryv0ET"
    "SQ4ZR2AmwCk1FDFjVY0Zi7uvHNig84tTojaI6yqJ8g104HPRstWKKM86UlnBumW3YlnHnK"
    "i5yrOHc5uMLaVIEQzc5yLugub4rl7FwxbJE+fZQazv7+ZLvZoVTwgjRTmg09IPExMud0Ce"
    "dfmLVYew/4jDp24gGiSQT0/zABH5ca+0A45cn5theOmznxNjGouHm2TOotSW0WzLrORVsm"
    "BCTEochYZ+/nKZz9vZY0koNY/C3OJJzzv7i5xb7OK2VGNyxxk8OJdgo1sskNP0/xYF79YX"
    "Yv2SR5OEmaUs5fmCrOnP1MA6mIA7qMoxliLaCnuaV1f2mqPSdwplMoEXTx9wZ8LIXQ2nnf"
    "Gwh4DhnftTDvrixj0/z9QGyaMXEHL8vNBD9LYXTZym4k6NBkCjIMKrlrGi+wglxFsM3yEF"
    "kbErhqIAOro5IkZDXv2U8KVkGP5rkoVTz4u8zqZmVWH5Ah/wRgvHPmYymEzRL+angthXfG"
    "qRK+Gl6LJFb5S5UB4Tl5AdGtlNN8l4JTxUcYypEvU/AZGZJ96Onvbqcdk9DzWMJmH1YZ+A"
    "/o2NzGxGoCuAKMZGUW1lshK04M8OrK7Ol/NSLJPw=="
)

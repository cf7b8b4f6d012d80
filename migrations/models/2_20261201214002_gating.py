from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "rooms" ADD "chain_id" BIGINT NOT NULL DEFAULT 1;
        ALTER TABLE "rooms" ADD "nft_token_id" VARCHAR(80);
        ALTER TABLE "rooms" ADD "nft_standard" VARCHAR(8) NOT NULL DEFAULT 'erc721';
        COMMENT ON COLUMN rooms."nft_standard" IS 'ERC721: erc721\nERC1155: erc1155';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "rooms" DROP COLUMN "chain_id";
        ALTER TABLE "rooms" DROP COLUMN "nft_token_id";
        ALTER TABLE "rooms" DROP COLUMN "nft_standard";"""


MODELS_STATE = (
    "eJztXFtz2jgU/isav2w6k+2AAwlNn0hKWjYpdBK27bTpuMIWoI2RqC0nYbr57yv5Et9kx6"
    "bEBS9PwNE5kvxJPleJn8qcGsi0X36AFsM6XkDCrpBtY0qUY/BTIXCO+Jccrn2gwMUi5BEE"
    "BsemK7YI+TXbE3AZ4NhmFtQZ55lA00acZCBbt/CCeSMrQ4KATglBuqAAOgGUUyL97YOJRe"
    "fgH4oJ2KMWwMwGE2zZDNh4Sl4ARoGJ4C16KcYzqM4HxGS6/q4dgn84SGN0itgMWXyAr984"
    "GRMD3SNb/PyqWJTOg+fXsCHETDRhGmTKN8G8uNEmGJlGDHKPz6VrbLlwaX3CzlxG8UxjTa"
    "emMych82LJZnyEgBsTJqhTRJAFGRLdM8sRYBPHNP01CvD3niNk8R4gImOgCXRMsWRC2ptA"
    "SFM0bTAcaVe9kaYpqeUMJCLL4JP4QoitwKdqu08/FVP4U222jlqdg8NWx4WKkx4pRw/e0C"
    "EwnqALz2CkPLjtkEGPw12BEFRbhurpDFpyWG0prnzCSVwDFDcX2Dm810xEpmzGfx62clD8"
    "2L08fde93DtsvRADUv6iem/zwG9R3SYBdHS3IsIwW5ZBNyqzHogDQohxqF4qB1ltHxZAmX"
    "Nlwuy2xXF2P0tgHPCvhK+/Qf9H8N7wRysDb8Bf3fblfUNiQCuYyzOj3CwCcjMb42YKYj5/"
    "VmoLPwpUCLKw/WhrIfZmL9yLFMxvOFIMz5Ec6phgAm7Dl3wZfNk+BZKD86j/vnc16r7/IL"
    "qf2/YP00WrO+qJFtWlLhPUveSaPHYCPvVH74D4Cb4MBz0XTWqzqeWOGPKNvihiTtBhVCP0"
    "ToNGFJOAHJBiaxw4kCVXOCK2W99NXl8D236QolkI2l6kVVRlSoXr5wKs340VUekNB9Ihkj"
    "crM/pKSD0dhq3LTjWeC+a1hGEhrJIAuCC0Esnq4N3wQFekDiY30jg3Clsa7TNqITwl52jp"
    "gt4nwqfUZT6Wn/e55N1FEj5bhvVDsKkCaqjXLHj3mHqR7TX+hQOAmKdvu1en3Tc9xQV+zF"
    "/5O+6Ga7EVEC1UpQnKI2+6aa7OkxRI4NQFSTyNmHtkERRJUs6l7+el4cSDFcy7dYFgBrqJ"
    "eWxuA52bD77Or8F34YU79nfAgw/wnThzLZIw4+QJNU16B9gMgTs0nlF6Y6czb+vu/Onc2y"
    "67VmV2rdLkxIZBG3NM2o0Cjkm7kemYiKa4BYW6zhWTB5EU4R5/bVLaPIZ2oosKo+mFMzax"
    "XjKaVj78fXLRPz0GnvQ1GQ3PewO+qvQGkWsyOBvxtZiwpJL5PRG3Oynh3vMIwC7zCqQE6+"
    "elt9QCaLfUTLRFkxTtudxNfxLseYajXgOsO0UUTydb8XRSioeIfEH5fZ0Qqx/S69/V+owP"
    "JY2OTvA00zeJSlUXGTWf10N5paoHB0dq4+Cw024dHbU7jUdXJd2U57Oc9N8KtyW2BunwVG"
    "zWaFp9Feua7KNC84os/UhtljWvvctTLnUMPOlrwn83m+22SxBfVjGsnSLaJ1v5yHSPp7PL"
    "lW2TcvXTPuvX8ya+RTeY7+FyUCfEngnpOlXK0XzBlppIsFOnTJIxJVedtj9sbEui0UAic+"
    "BYaAWApbLVgaxuC8bi/YjmZ0pALBOtDuH21iCMGBRJljSyI3SfBW1Epg72Lq+W1/s8ipXx"
    "AnW79777+UWslHcxHLwN2CPq+fRieCI5luBkhDhPe3+hdIV+HzbMYCaFvb7+m4veMRCS1+"
    "Si/5F/FxZ8E3y9RNa3hFaRie5qcEml4mfbVzgzEJdcw7GBTSsQKfwBjSExl74a3JJzBL7G"
    "zj1G4CyMFVc9Lrlb9U1ZdcnpEXf2qWrw76tS5twgSFSS82uWK9wZuODW7Bwzr9CIfXPtH+"
    "j3umTcUiBDHOJ3f08wwfYMGfJ7Ar/WXeG7AUEhzO9tdzFgdzGgMmCfOd0R299F4Y0J1fBq"
    "QFMt4j1zruwSpJryoCPKo6Spj0vW0NRvr2lPe3SIQ7jKIkfldkd/N22FS3hv4VbIj5dPfO"
    "mz80tkQoalp4BzL3Zu51ueOuf38Jz+7ifvQFqfjOm9zOGNted6vP7RNg0/spbyeNEtEldX"
    "vcUA46V7bRUbrwEf0cTcRfVJwrb+YQPeL7X2AeX+bL7r+4v9lvaBFxYV55RW8YLz6uQ1c4"
    "QrqZBnu8vupihZlY3K1M5xfhaPzkMs+8xfHs7VH/PbBSlbXnKpYEd7OZNyeiMqUz+Y17+Z"
    "gyMZeQn/PEspl69NQaXis2UW0hEHdJWILSFaw7h8S1PwRQovC7g0KZQouuwSfkSkFla76h"
    "J+LHIo+a4lZXcZkk3LkMRuwzAmjsOVOSQQFamNLVvb4QAT2kxDlkWtMgorLlUH36wKlbUh"
    "hdousrA+UyQpK79lPy9ZBUOep7JU2eDv7m9uVhH0FlnyC+PZwVlEpBY+S/I/ptqF/mOqnf"
    "MfU+3UVU7+UpVA2GevIbrNRpFbDJwrO8PQSN1j4CMyJLsW+NfVcJBxvi0USbp9WGfgX2Bi"
    "exv/YyIHXAFGvjFL2q2EFyc6+O3G7OE/ZSUXRw=="
)

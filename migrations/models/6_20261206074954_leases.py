from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "nodes" (
    "id" VARCHAR(128) NOT NULL PRIMARY KEY,
    "url" VARCHAR(512) NOT NULL,
    "heartbeat_at" TIMESTAMPTZ NOT NULL,
    "started_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "nodes" IS 'One process of the service, as the others see it.';
        CREATE TABLE IF NOT EXISTS "room_leases" (
    "room" VARCHAR(128) NOT NULL PRIMARY KEY,
    "node" VARCHAR(128) NOT NULL,
    "epoch" BIGINT NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_room_leases_node_731fb1" ON "room_leases" ("node");
COMMENT ON TABLE "room_leases" IS 'A room''s owner: the node serving it until `expires_at`, under `epoch`.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "nodes";
        DROP TABLE IF EXISTS "room_leases";"""


MODELS_STATE = (
    "eJztXW1X27gS/is6+VJ6Dm1JIMClnwJNt9zS0AO5u3t222MUW0l0ceSsrRBy9vLf70i2E7"
    "8ThcTYXn8ikWcU+xlZ82hmJP5uTCyDmM77c8waZ+jvBsMTAh+CzfuogafTVaNo4HhgSrkB"
    "ZrIBDxxuY51D2xCbDoEmgzi6TaecWqLrxjUjiBqEccoXCNQYMdDQtibIggu2BR/2BguQeL"
    "uP5pSP0Xy8QJgZ8Jew9+InDEuH36BstJXeZoz+NSMat0aEj4kNff75Z0Moiot+z42fP8U3"
    "ZpBH4ggR8XV6rw0pMY0QXtQQerJd44upbDuno0vGP0tZcf8DTbfM2YSt5KcLPrbYUoEyLl"
    "pHhBEbcyJ+gdszgSWbmaYHuQ+v+wArEfcuAzoGGeKZKSwitN0bWLU1NK133dduu31Na8Ss"
    "5WsEIPeadIsJS8OtOhKAkbiFd/9qtQ4PT1oHh8en7aOTk/bpwSnIyvuNXzp5cm9mhZbblc"
    "Ts8pfLXl/ckAXDyR1jouFJ6mCOXS1pjCD6nr1iNrgYYzvNAiudiB3gAaN28FHPMoTfsLLE"
    "6lXIwxQT/KiZhI34GL622scZMP/aubn40rnZA6m3YbB73qWWe03gvsLZJtixmArKK42NMP"
    "aGcjEhbjdba0AMUqkQy2thiHVADODQMI/D/AmucDohyVCHNSNwG57qe/9DCQd4Btj9y2/d"
    "237n23fR/cRx/jIlXp1+V1xpydZFpHUvOvSXnaDfLvtfkPiK/rjudSWclsNHtvzFlVz/j4"
    "a4JzzjlsasuYaNICZ+s98UfpPA02hJTiPVYwQ0nncbJbCm5zlazaOTo9PD46Olw1i2ZPkJ"
    "1ycIdzy8T3QJvisPo/vZsgkdsa9kIUG+hDvCTCcJoHoE6MbrpmTgPvmjx29dzaU2ni/5S3"
    "BQwbPDExPuTuid24vOp25DIjzA+v0c24YWglpcsVpWpGUpG780aU2iLZjhkQRHPIW4Zw/1"
    "HvxJoqOyPZOPMmhSIKRT29KJ4yBriIAFIofYD1QHWezI75aghg40A9nkySRUuYcE4vkSkp"
    "lFcLZHbV6XY4a8brN1uobXBalUryuvZRPKmW2qQO2JV5BG7oTjjAm2+QDYygYsJ6pb85xC"
    "8xzwr/ZmdDasWZu5cGaOka/X4QrfYZhQnU4x47fgiF0jxJhDglQmj5iu5DXHVVCgFWBpRn"
    "TRIniBCEkF+tt3A1X/tShDe5YNvMBBQ2o7HDlATd8ibiGT4AeSzDe21/XzRMQNiPnP7/FE"
    "kwzl3PtTiab8UwJhL1rOZDESR438ORVlf8dHa9CR46NUNiIuhclIHTvMJ3Yo/ypg7MtXL2"
    "64E3jv4dFU4PXl8xu+gtExA/x9IxeUm+uA3EzHuBmDGO6fKw3hpUKOIAvfT0oLsXv3G6wW"
    "QopbWCwUbAIp+1ohaGOfQCpaOKBW27fI9jWo4y1SNPV8YaJy9SjA9mmsWJXeA5AzlvBmpa"
    "6+Ilr5JZYOdgXzVpZhUVhhNeXEUe2Tx0xYfa0qDN+sCar7ez80N/nDdO9b5/e3ofnp6rr3"
    "iy8eGNYXV9fn0UqDeOBBJU8a1qzzpevlS33YtpQ3DQTaSoa1Uvo0PNaKlEaVyeuEYKif1E"
    "4Pf4oHWzPe2XHL7XSTEkAPeVUoH9GdWP3MnDtZdnfHZhMtEKiE5qFlmtZcJknnZDC2rHsn"
    "HvHcdudbTr7WUc0XRjVzDQoVDNpwnvVgnTTrQXqW9SBKCLEu6hJciBIR7sJrE5vNQ2hHus"
    "gxijGdDUyqK0YxGt//c351eXGGXO0frH/9tdsDq1r3hP1gvc99sMWQRyeZ14l0yJsSyypY"
    "eSVwy/RXIKZYBXoZRvtonZqDo/SSg6NYxYEH2iR5efQs2JOUBVIFsD5dZ+I5TZ94TmMTDx"
    "NxGvVxHVGrHtLbH9X6GH4qcXWUtfUgqJXfyqi5W4aSywaE8BgPpjM28a7RPnJ0r8TWT1pN"
    "VffavbkArTPkav9g8L3ZbLdlg/iwiWNdp5YvvZLvNGnucedstXR5VK96s8/253mTPpB7yj"
    "XFyoSI2o6QrlKFgjUHMFQgXipUDtzt+1AymfKFJrJG1kwlch7Ty8+VHh+UJXpuEBGWmdlk"
    "A4ATdfMDuVUWjMX7EQx+KUCcpJofwu3SIEw4FhEslQxQUKcKZCLv/I8b392UWq+0cyTV1D"
    "D9O1mbUl9+uuqeIaH5g11d/gqfBT0qApGOhNQVZpUk1TqxHJ1U6n2+6VDDAxrXzFx402BJ"
    "imO8GTuzNmY2NTa0eliztnpRrJ5QEiXvviC7Y0Sq94pghzRS8sDuxf3nksHgaEBOKSX8xk"
    "FyIXom07BiY667O5aNEOVoxjg10R15nFIAGob13T60GcSGtqmlj+/SksHb6PYFaeDkfeUZ"
    "B2B48pXLWOayD5d5G77XjuN58ruifZWAOxD8EK+EWvZgqVKloqqcswer2UmVBYQ1K8gCyu"
    "v1C7UpNlh+l+L419oGGyxwU9j/egWL2K/gjWXxFvVW6d7mVLdLd3O32JAqvw8po86YGMl7"
    "Xl/W3dr7XP3iosDO83qTa73JtQoppND4VqGu2nYr7l7b3e+eUtUHXlTWt4coHEC4iZGDev"
    "U2tqJZWIG9rYZCdpj83NP+/PWGmJjTxB1tmYeUlPMtj+2deNol370lmCcRXdmeyXAdkNjg"
    "BOM3DhrZYCego7Ejh8/kuSuiYzS2TEPuURAtssDIeYMesEkN6CP7VOOt/UJ90nHpQgX1Sc"
    "evfZwGdZzZRg4+pFiTuMK5+PA5hPAMMmOgauWwZk3kimxl6UXJhoaOKdevdPGNrd0TJQcZ"
    "UsqxYqiRi388XKdm9jC9ZvYwVjNbH15eH17+CivI/XIcXn5L56RnCcMkLUiXF/czV6UgBn"
    "McyK1dciGl0RiLABOyZhzBUvHu+/VtH314aH6ASXP8QYrcfUQuVIaQEDUUqxNC38FaE27Y"
    "raVIKsDYzY+8oByD+ViuXyGQ/MrUWQM/a5C++CxX3jpPS5SdQhUkbf0bNmHSyEhchwUyp9"
    "C5FFVMXnfkDEUMMUe5HbxHoiZRTmG3XzrvWu1jce6yCLYNCLaJ7cbcEHWQw8E/J2Swt9Rn"
    "fXRJsXLV7nbRMXYSCqieO1DA16p90LOZ6w1OEnjpKQIF8y31KQKVi+/X20D+AZyqvBWfNX"
    "MuH3N2T7m7ZAPrMZE4B69n82ZXUqNLUaWST/JAxP8hcUeXWPwLWkuNjwh+0aRuPEA0eVs5"
    "oF/L3kdiUZ5d+/nCfpWLQL3/67ZJGWidDc8rGy4HheJRL0GdyvHv3ewSkYhJkJRx9rUqWH"
    "dQmSrdguWecxjR7qYBtXkjqFM9mLc/mP1znrJWOFmeMlm/MgcJ5LzOtIlOANBNFpoR1Qqu"
    "NEu69XydAwemeGFaOGGiSz+6JqBSCa+dZc1dHF0TWjkovmtR3bqyrGjr/VBsmnNxDJzK4T"
    "hBlcr4sq0dimNih2vEtq2E4w7TJ6ywVhW4WR5TVkECVx1iU33cSAhZeVf2s4JVeCXzXJQq"
    "Hfw6s1qszOoDsZP/C0364iygUgnOEt3h0F5rh0M7Y4dDO5ZYhZdKAWFPvILoNg/WORoZpN"
    "IjDAexw5HhFzlJ+l8D/7697qUk9FYqUdpHdY7+h0zqlDGxmgGuACPbmUX9VoTFiQ5e3Zk9"
    "/R9pN2m3"
)

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "outbox_events" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "seq" BIGINT UNIQUE,
    "room" VARCHAR(128) NOT NULL,
    "type" VARCHAR(64) NOT NULL,
    "data" TEXT NOT NULL,
    "occurred_at" TIMESTAMPTZ NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_outbox_even_created_a91cde" ON "outbox_events" ("created_at");
COMMENT ON TABLE "outbox_events" IS 'One event: what changed, in its room, when; numbered by the sequencer.';
        CREATE TABLE IF NOT EXISTS "outbox_sequence" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "last_seq" BIGINT NOT NULL
);
COMMENT ON TABLE "outbox_sequence" IS 'The last `seq` given (one row, id 1).';
        CREATE TABLE IF NOT EXISTS "webhook_endpoints" (
    "id" VARCHAR(40) NOT NULL PRIMARY KEY,
    "url" VARCHAR(2048) NOT NULL,
    "events" TEXT,
    "rooms" TEXT,
    "description" VARCHAR(512),
    "enabled" BOOL NOT NULL,
    "disabled_reason" VARCHAR(256),
    "secret" VARCHAR(128) NOT NULL,
    "previous_secret" VARCHAR(128),
    "previous_until" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "webhook_endpoints" IS 'A service''s URL that receives the events it asked for, signed.';
        CREATE TABLE IF NOT EXISTS "outbox_deliveries" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "event_seq" BIGINT NOT NULL,
    "room" VARCHAR(128) NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "attempts" INT NOT NULL,
    "next_attempt_at" TIMESTAMPTZ NOT NULL,
    "claimed_by" VARCHAR(128),
    "claimed_until" TIMESTAMPTZ,
    "endpoint_id" VARCHAR(40) NOT NULL REFERENCES "webhook_endpoints" ("id") ON DELETE CASCADE,
    "event_id" BIGINT NOT NULL REFERENCES "outbox_events" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_outbox_deli_endpoin_e5a6b3" ON "outbox_deliveries" ("endpoint_id", "room", "event_seq");
CREATE INDEX IF NOT EXISTS "idx_outbox_deli_state_1aa0b4" ON "outbox_deliveries" ("state", "next_attempt_at");
COMMENT ON TABLE "outbox_deliveries" IS 'One event to one endpoint: pending until delivered, failed or skipped.';
        CREATE TABLE IF NOT EXISTS "outbox_attempts" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "endpoint_id" VARCHAR(40) NOT NULL,
    "event_seq" BIGINT NOT NULL,
    "type" VARCHAR(64) NOT NULL,
    "attempt" INT NOT NULL,
    "status_code" INT,
    "error" VARCHAR(512),
    "attempted_at" TIMESTAMPTZ NOT NULL,
    "next_attempt_at" TIMESTAMPTZ,
    "delivery_id" BIGINT NOT NULL REFERENCES "outbox_deliveries" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_outbox_atte_endpoin_1d6995" ON "outbox_attempts" ("endpoint_id", "id");
COMMENT ON TABLE "outbox_attempts" IS 'One attempt of a delivery, as the deliveries route lists it.';
        CREATE INDEX IF NOT EXISTS "idx_outbox_events_unnumbered" ON "outbox_events" ("id") WHERE "seq" IS NULL;
        INSERT INTO "outbox_sequence" ("id", "last_seq") VALUES (1, 0) ON CONFLICT ("id") DO NOTHING;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "outbox_events";
        DROP TABLE IF EXISTS "outbox_attempts";
        DROP TABLE IF EXISTS "outbox_sequence";
        DROP TABLE IF EXISTS "outbox_deliveries";
        DROP TABLE IF EXISTS "webhook_endpoints";"""


MODELS_STATE = (
    "eJztXWtzm7ga/isaf2k6k+3Gjp3mpJ+S1t3NaZp0Eu9ltu0QGRRbJxi8IMf17Pa/H0mAuQ"
    "mMMCZY5UtiC70yPBJ676/+6cxsA5nuqwtodc7APx0LzhD9EG0+BB04n4eNrIHAscn7jaHF"
    "G+DYJQ7UCW17gKaLaJOBXN3Bc4JtNnTnxkIAG8gimKwAJbOQAR4cewZsesGx6YeD8Yr2eH"
    "kIlphMwXK6AtAy6H9kvWI/Ydg6/Q1sTSoZbWHhvxdII/YEkSly6JifP3cYIbsYjNz5+pV9"
    "swz0DbmsC/s6f9QeMDKNGF7YYHS8XSOrOW+7wJNLi7znfdn9jzXdNhczK+w/X5Gpba0JsE"
    "VY6wRZyIEEsV8gzoJhaS1M04c8gNd7gLCLd5cRGgM9wIXJZoRRezcQtnU07fpmpN0NR5rW"
    "Sc1WQBGB3G/SbYvNNL1VlwMwYbfw0396vePj172j45PTQf/168Hp0Snty+83fen1d+9mQr"
    "S8oThml79cXo/YDdl0OXlrjDV85zSQQI+KT0YUfX++UnPwdgqdrBkIaRLzQB8wOQ8B6nkT"
    "ETSEMxG+CnVMxQx+00xkTciUfu0NTnJg/v389u2v57cHtNfLONjX/qWed43hHuLsIOjalg"
    "zKIUUpjP2l3EyIB91eAYhpr0yI+bU4xDpFjMKhQZKG+R29QvAMiaGOUybgNnzSV8GHPVzg"
    "OWCPLj8O70bnHz+x4Weu+7fJ8TofDdmVHm9dJVoPkkt/PQj443L0K2BfwV8310MOp+2Sic"
    "N/Mew3+qvD7gkuiK1Z9lKDRhSToDloir9JlNNoIqaRyTEiFJvZxh7Mps85et3+6/7p8Ul/"
    "zTDWLXl8wuMJjB0/PApZQsDK4+i+tx2EJ9YHtOIgX9I7gpaOBKD6AtCtP8yegfs9WD1Ba7"
    "iXOnC5ll+ii4o+O31iRLwN/fzu7fm7YYcjPIb64xI6hhaDml2xe3aiZd03fWnWmyVboAUn"
    "HBz2FOyefdSv6T+ROMrbc+VRizZJCKRzx9aR6wL7AVApELjIecI67Qtd/t1moqFLm6mwSc"
    "RCqPQIAsFzGyEzT8CpTrR5XhkzxnW7vdMCXJf2yuS6/Fq+QLlwTBmo/e4KipE7kXGmCDpk"
    "TKWVElJOkraVcxot51D+6pQTZ+OU7TQ3bppTwtfzyAo3CzK2v50TgmZzIhIa4h1ypQebd6"
    "VLjveVkCN8CiYFQECHxU/IWa2FAL8BIxc49CcQMLFL3EyRYpvBNksXnzvIMuY2XYW+4Ef/"
    "fm3tWo20ayVmqqg4kiBTUCzpHxWQSvpHmUIJuxSXSdATooC56G+59R4jU0kvr2Xlh/BzzC"
    "SWeNBfwbV90i+wtk/6mWubXYqDC0PeV9DYFKFQaVFvZWxKiLVk4VLADMGqzUQ1QVUK2aZZ"
    "xCsGFjmO7UjxuoCg9S8U0r39N7uUSpakbZWyxill0am20DcS6DIlZltAXsGEN+yNU2m+A1"
    "VRqC3kCbEJQpU4fg1ibI4TKgC2AkeUZ8V4FxlwzyakqEsqsRib5JZKzEGmrSk6SxuNTaE9"
    "p7i5iWudgNg82inQ9s/AnH6kUwAWFsFmYChCxiEdCpvIALYD3Ec8nyNDbHiqZtgSJqjAWR"
    "tq05TiM5eX+SuRZEWtvaqh9qrWiPKcRhRxzENOcJbfX0EjSoVe4rjWL2WlWhPUh3DH3607"
    "9cBcJMiwmx1j2E2FGEZ9L3LGKrfe3eNot1tHZRaVRmqBTds8VFIDdRPSSTC0sVQ4dJxKPW"
    "PaThhCABqXjGXfrBRxa11p8mvV+mJr9sXKqnJRqlaJqMqEFazfCkxYf6Dx1LYfh5ER92xG"
    "itqwEi+92IaVWvGVWQmHwWiqwht502XtgylNQ3PspUDbuPCp33+4RSbkT7IB9UiEmSK4f9"
    "+9MdVbqpmW1PVK3mhG5WtC1oR6BpZTSIA+hdaEGTSxBTBxef7oIU8VfUPvejZm1k4wXvkB"
    "/nTK6Dvo5JhQtx62iAk1ku7VmkObaQ6VNoRuYwJNiv4/DP6t/bMudbcN0tthkB7bRdLgjt"
    "C3LKe9318JcPMMBcM/RzEbQQDiwcfzP1/G7ARXN9e/BN0joL+9urlIgG3r+sJxSgVBJUhb"
    "Y2ijrTZtOr2y0yyRf5SKyPGjLbZV+RQMx6lB57vzdZ1Optq37nFYQPNzo5036n4jqmyZ0C"
    "XgntLdgwmdPwsceFWDllRVM0D3ZVq1K0xVcXb3j6KobentzFbB2KTJB6REqZTxKD+HHfl5"
    "4vQ+QYdgHc+hRe6Q63pwpbYaQa/c7WYe9qdrgxNI2JvonFhIZy0sr5PtHJHxDr3aZf+zMd"
    "tVHG4tesAO3W9cPLFespA8E8EnJLY5VTd0EbsTLxniP79vgzXRQ4mwvHZv23Jvc+U8ka6i"
    "BUGqV8XbcnL1lJPj/yUwDvqrF52yE3gf6aPJwBv0rzFYkfkzDcrvO7WgXH204l5EhDLej/"
    "YWYu/uSxhwYoRtbFXTzDfROQ4ESMkZjpC189vk+TWw6yspmnwJWSGxeiJA9WIs00ofKZAL"
    "UWhRpvaVoFLG/FFZQL0HENWmBCbkbHddnEqF5Vu3z05geCi4pAWUKgWI7rKEbgBbGu1SpX"
    "QjhrY9w7pobKJgrTUphZnXMxYYQ4M6x9nmT/ZgBe2d594JDLqJWUwe8D2pb8C9VwDnnp/E"
    "cG8tZlrEUEmbH2zTtJc8Hm7pxQq7aYtn1YO3HptmWTVrNQo1DNp4+Z8ieRWD7LyKQSqvAu"
    "qsVLWWHcY1pK9NajeP51rGh6gzr3UxNrEuacXofPrt4ury7RnwqL9Yo5sPw2s6q/Yjsr5Y"
    "1+9HdC4eSHKTeR5LB78pplZRzUsgW+bE2SUJVRAvE0lGRUph9bMrYfVThbB80GZi9Wgj2L"
    "MMBUkBrE+LbDyn2RvPaWrjsZidRn5dJ8jUQ7r6Va1P6U9Jp85FqerTjLq7lVBqDj5nizXq"
    "zijDXZNj1MhekaO/7nVl2evw9i2lOgMe9ReLfu92BwPewD6UYaxFAtezw9ZTQesMU2/Pln"
    "OXJ+nU232q3+dZNOQjJppkZEKCbEdIqxShYC8pGDIQrwmUA7d6HsqyOFca8xrZCxnLeYqu"
    "PlZ6crQv1nMDMbPMwkElABbS1gdyb18wZu9H1PglAbGItD6EB3uDMCJQNmErSqOCMFG3/8"
    "ez75YVrUPqGoVqbJjBnRQWqS/fXQ3PAKP8Yl1d/k4/M/GoCYJ0wqQusauISFvHcnJTaXPV"
    "sqGmD2jcWObK3wb3JDjG37FzY2MWc6PkrMcp21lvyqwLQqLWmXUNyI5hrt4rBF3UyfADex"
    "cPNzmDKaOh/aRcwi9cwBXRM+6GZWe1egemWhOAiV9f+h59m2MKNF3W94e0zUAObZvb+vQ+"
    "yxlcxbBbuIGft+xEgzyWtRzNagnP3Mmx44lP26lM7FMC7ojxg70Sct6DNYlKQVU1ew/C3U"
    "lWCohTKigF7C/X94S9BrH9nGzYRHTeBtYvn/96RZXYD5Qb8+At7GvpfnKqN6R33i9LSOXf"
    "H7CF3WnWURXbDVc4zzUILoocRtwmubZJriq4kGLrW0Z01aqNuHtudl/LsRHtGehq8vZEgf"
    "BSkxyla9PYmjbDEtJbuBTyzeQydabERUr28y2vt9bUHYLCwsK8PVfCdWkPCck2qPzwwgUT"
    "h84TK/frVYaisujBeEU7vDzjdVfYwGBqmwbPUWAtPMDIfQGeoIkNOoZY2K38FwTy7+e1WW"
    "pdyeLrNnkQbZXhak0F2RJyW62knnIa2HUXpRh8jLAV4hrH4qOTPGXPUOo4nzhlK8g1eZY5"
    "Fy17blOKuH2lmz/Z2iOSYpAxohojhjq18MfjIjGzx9kxs8epmFluGJJPym+T8WWS8dPolk"
    "rC30NwpbLvm5d1f4eX6NrOKHkcXjzM1UppN7rH0X6FQy54bzCFzMAE7AVhh83cf7q5G4Gf"
    "n7o/001z+jPvcv8GeFCtj6MJK4T+RHVNesNeLIUoAGM3P7JFOIYVYFk8QkD8yrReg8BrkH"
    "Pi9175reuciX0XoRritv4DmnTTyHFcxzvkbqFL3lXSeX3OdyhksD3KG+AVYDGJfAu7+/X8"
    "p97ghNVdZsa2MYIOcjybG8AucAnlzwIPdkVjtqVLmuWr9tJFp9AVBFBtKigQULU8aKPnuk"
    "QlgW2rCDSMt7RVBJSz77dpID+ATLW/EZ+t5Lx/knPiuG2R7Jw+kTtHevY6a8Hh1sXlZ5aL"
    "oaMXLvjt9oqKuJAAB+kIPyGXC7ze0b0sVQO6j8gAD7Zz6AvIQtF5y+EqlprznKxKCnT9Im"
    "VD+tllQ/pHm4wKC0fglMnG2e+uoh/7qF8kHpF1y/Zk84uJbIP1YdlxjLOT10OKNnW9XOli"
    "KbjXBC3a8mhHb1NiG0mQqYB8oqBot4iiSHtllxTtpovlWOzRRZqibZsIWlkxr2uqBM5jSr"
    "arfTvgmfWu8Yubm6vYGr+4TC7i3z5eDG8Puhx32gmTDNXQwC7HrdwpCklS9Vb4TuK+XET1"
    "aqkSoSGFgjLJTlIk5g56wvbC1eTBFpCqt7B3C3qpMKg0dRvz1jRLRGtW/CGmuVSOSnsS+n"
    "Nmp/iWt0uLYtfJtsx51w+LmOXwuqtUPjZX7FlBFDYZLDKH+Zyx8QbQXzSxF6zDmvw6K3Rc"
    "Zk5jETP5idlbjiudoT13bHYyQZkc7TZVpVpXVk60EFsUknWYozTK2VJ3U8KFI8ZBksY5oF"
    "JQcVEmhb5hQnINK9qr6CG3b0Rp1IO5+sUcFGHP0xPyOKWYXpkqnzUHgfgezTLqWoJUQX1t"
    "T+tCFqkGOocr04aCjS7bVxQhUYJr1+0uimkOku9akrY1gTXNNhILHCWEndEgU7k6SqIML6"
    "usYrUJXaIhx7EFZ5Fkb1hxKhVkszq2rIZElZ0jB+vTjsBk5V85zDNWwbDPJitVNvht2kOz"
    "0h6ekCM+IjpbOYuQKCGzJN3Qg0Ju6EGOG3qQynqgL5UEwn53BdHtHhUJQKS9si0MR6mTy+"
    "gvEiQ6CPS/dzfXGW6xkCQp9mGdgH+Bid19zHrIAZeBkc/MknwrIcWxAZ6dmX3/P98xP/8="
)

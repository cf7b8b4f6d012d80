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


# A room whose condition only `access` can say (`access_type` 'conditions') has no
# older field that says it, and 'public' would open a gated room: the downgrade is
# refused while one exists (README: make such rooms public or one leaf first).
async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DO $$
        DECLARE gated INTEGER;
        BEGIN
            SELECT count(*) INTO gated FROM "rooms" WHERE "access_type" = 'conditions';
            IF gated > 0 THEN
                RAISE EXCEPTION 'downgrade past migration 11 refused: % room(s) have access_type conditions, which older versions cannot read (opening them would ungate them); PATCH their access to a single erc20/erc721/erc1155 leaf or null first', gated;
            END IF;
        END $$;
        ALTER TABLE "rooms" DROP COLUMN "access";
        ALTER TABLE "rooms" DROP COLUMN "delegation";
        COMMENT ON COLUMN "rooms"."access_type" IS 'PUBLIC: public\nTOKEN: token\nNFT: nft';"""


MODELS_STATE = (
    "eJztXdty2zgS/RWUXpJUaTKWIjte58l2nBlvHCtray41SYqGSNjCmiI0BORLzebfFwBJiX"
    "cRMkVTCF4SC0RD1GkQ6D7daP7TmRIHufT1EfQ6B+CfjgeniP8Rb+6CDpzNlo2igcGxK/uN"
    "oScb4JgyH9qMt11DlyLe5CBq+3jGMBFDd4YeAthBHsPsEXAxDzng2idTQPgFn/A/Xo4feY"
    "9XXXCP2QTcTx4B9Bz+P/Jei69wiM2/A3s3tYw29/Dfc2QxcoPYBPl8zC9fOkJQXIxG7nz7"
    "Jj55DnpAVHQRH2e31jVGrpPACztCTrZb7HEm247wzanHPsi+4v7Hlk3c+dRb9p89sgnxFg"
    "LYY6L1BnnIhwyJb2D+XGDpzV03hDyCN/gByy7BXcZkHHQN567QiJAObmDZ1rGs8+HIujwZ"
    "WVYno61IIgZ52GQTT2ia3yqVANyIW/jpX/3+mzdv+ztv9vZ3B2/f7u7v7PO+8n6zl95+D2"
    "5miVYwlMTs9JfT85G4IcKnUzDHRMN3KQMZDKSkMuLoh/rK6OB4Av0iDSxlUnrgPzCthwj1"
    "MkVEDUtNLB+FJlQxhQ+Wi7wbNuEf+7t7JTD/fnhx/OvhxUve61US7PPwUj+4JnBf4uwjSI"
    "mngvJSYi2Mw6ncToh3e/0KEPNehRDLa0mIbY4Yh8OCLAvze36F4SnKhzopmYLbCUVfR39s"
    "4QQvAXt0+unkcnT46bMYfkrp367E63B0Iq70ZetjqvVleuovBgF/nI5+BeIj+Gt4fiLhJJ"
    "Td+PIbl/1Gf3XEPcE5I5ZH7i3oxDGJmqOm5JPEdxorb9Mo3DFiEqu3jS3QZrhz9HuDt4P9"
    "N3uDxYaxaCnbJ4I9QWzH17e5W0K0lSfR/UB8hG+8j+hRgnzK7wh6NsoBNTSALsJhtgzc79"
    "HsiVqXa6kP7xf2S3xS8d/OfzFiwYJ+eHl8+P6kIxEeQ/v2HvqOlYBaXCF9kmpZ9M1emvan"
    "6RbowRsJjvgV4p5D1M/IePw4wvYtYnlWafxyqXXqio4Wkz0VzNRbj9i33JIEEMgREgblAb"
    "chSVcakl1pUnLzEUz48kBfAAfZmPKB8u3VeobNMVxTRuqXuFr5v9+M1dpKq5UtZnBVa2op"
    "UY/F+rxKSBhTg/0KttRgv9CUEpeSlpRxCppxCuT/ChhH/fVzCDYCL7dQ2JyqALyU0HAK96"
    "pA3CtGuGec2uadWp+4SktE1N/M3wrzd4oYFDZGFuAReigw5OIyOszhMmrg5M9RghWIsHz5"
    "6fDPVwlm4Gx4/kvUPYb98dnwKIU5ZPx+xnOGchbmYtSTUgZ3ddwZcy2K+E04OcAXui0pKU"
    "OfLJyTJbLSOV2Ld0xKGt6x1bwjephhPtwaak5KGjW3Ws2CMXLWepqTkjWoeYt2rG3T8pT/"
    "qAIll7F4CbG1NsOW6bRJOs+EcEwIx4RwVodwzvl/nZzYjWzvlgVtPN6kEKyZ+cRGlAJyLU"
    "MmFPl32OZ9IZWfiQiSUN6MAGb5cRnlEVaHYJQiLmV0tJZcf69fheznvYpZkH5I9xdHV+a+"
    "qwJ12F1DxmkjjN4EQZ+NEWRrmJhpWeNLtNrK5Purv15GUlLSqLl1as4YX89jKwznbEweDh"
    "lD01luwkeyQ6n1QGRXPuVkXwU7IpQQVgAEfFh8h/zHhREQNmBEgc+/AgEXU0YLTYqnDFYl"
    "wQN5zozwWRhL8uiCL53omyyT9dHarI+U6qraJykxDe2UwU6VDJCd4gyQnbSRgu4QB4yiv9"
    "Xme0JMJ0e9YYJEYqYwxaP+Gs7tvUGFub03KJzb4lImAhlthhXZp5iETpO6tghYkDbDAXNy"
    "Zm0hqikpjejU2oBFvk98pb0uEtAhRN6AMx4+2Wv5aGlZ46W1zktLJFuiBxY5N2toO0fchP"
    "jarO+4R6dkxKYEddrxGzBjS6JSEbA1RKYCWuN9bMAtU0jVGFVqMrYpTpXSQSH5FNfSSvZp"
    "SfBU55+k1wkYkSfYI2//AMz4n1wFYO4x7EbMEXK6fCjsIgcQH9BbPJshJ5+JqmfYNTipKH"
    "q79KYlRSXsZflIpLcieTXobNir9rJXhlJ57pwTFU8q6q8hpVJjEDnJAShxVguB5hDuhGt3"
    "pxmYaz+vEA/NqFFXDWdv72x26aiNX2mlT9i2xUMnp9B2IVeCY42VzrYmpfSj1jayIUSgST"
    "tZ9cnKCBuupc2PlYnMNhyZVXXl4lLGiaiL0Irmbw2E1h9oPCHk9iQ24pZppCqjlXro8xmt"
    "zIyvjTM8iUbTFd7Yk67KFmY8Dcsn9znexlEo/eHjBXKh/CUrUI8loGmC+/fNU6vBVC3kVR"
    "czeSWpKueEKqEqyipBBuwJ9G4EvYk9gBmVlZeCYkvv+F1Px4L7BOPHMP+fq4w/g34Jofrk"
    "YasQqrGCfoYObScdqkyEPoUCTZv+Pwz+hv9syt01KXsbTNlTLdLypAItbQO36UohxLbnvr"
    "9WSlRK1JChrWZtTMFkbdWscDwpk5+D80ozqbt8GibnNODzXYa+TqfQ7Vv06Fbw/Gi880rf"
    "b8SdLRdSBq643BW44frzwMvgvRD33FVzQO9V1rWrLFXz4e8fxVF7YrSz2AUTSlNPSIlLaR"
    "NRfg4e+Xmy9j5Dn2Ebz6DHLhGlAVyZpSanV+lyM1v253NDCijwTVwnHrJFizj2KVaO2Hjd"
    "4O00/yVYrCq+ZIuusc/XG4pvvFciQc9F8A7lc071DV25enj4+0MO1kXXTJ2HMmvbE9c2qh"
    "aJpJrWC6nfFTe1wU1tcA3gveU/TQXeqH+DyYoinunw/b7TCMr1ZytuRUao2PvR1kIc3P0a"
    "BE5C0ORWtY2+ies4MiAVNRwTM/pts34dTEMnxVJ/n0KusH4mQP1mrPBKbzmQ87zUouJy6E"
    "kpbeiP2hLqA4C4N6VU3T8ppcP0bTpml0M8VJzSOZI6JYhussJuBFsW7bUq7caIti3Dumpu"
    "Ys5ca9OB5gtkE98JfmiGEV1e7JYRoX7UTSXdTpgTNKh4F+TBQQrO8B36iFkQWfHRjIh6kI"
    "A3CKLyP9DHgCImPgdH2nLiMvUOXZn+jIgIcxS5tbl3waxQPawRFzJE6UoLM/EwqGTdWU+i"
    "8tq2NzRx9DjcUVQ5/6SYDmbnpue0eaPipk94zx1MLOK5OfGVI0JcBL18nJOCKazHXHJTYC"
    "9amvWijobDs4QXdXSadpN++3R0wuGX6PNOmCV2R1Ol+wfj2bgxu5aS43KGSW2zhuczZ818"
    "1qSkeZBbrWaKkGdxp5p7sYqbZErS7JIKu+Q1dtVe2boQaDCa++Vb5xkeoE0QugWVf4vh1q"
    "rybxNotyQfU75jLY9vDM/flVCNvEdFlvFQkn/AdrE4CAzC4xvvwFXgnl0B6DngyptPrVh2"
    "JG++Jq5L7uUh3PugQAHN8ox1D27SxNuVStloJlrLoE1WIK9SzGW3uJjLbqaYC7TF6/Os4r"
    "OjJ/yxyYSQko5/cogmi+nNxy62FTfczuffjs5Ojw9AIP3VGw0/npxzrZJb5H31zj+MuC6u"
    "2VfveHj+/nR0Ojy/PBBJ3A5mUU7587M08maFySoYcZVHIyOow2adqnhUpUr/oLhI/yBToz"
    "8EbZqfq7ES7GlBtoYGWO9XWZD2ixek/cyC5ImkMfV5nRLTD+n6Z7U94V+lXMcrLtVcmkZv"
    "s5ZLw5UwxGSN51avs+umx2hw20W+/bbfU912Ty6OudQBCKS/evxzr7e7KxvEH+tsrFVCec"
    "WBvEwYT2AarNlqcby0nH6rT/3rvDiafYuZasg0JbYhpHXKAiD3HAwViBcC2oFb/x4a+D4q"
    "LNlSQodVomlSUmTq3SyKPygQ70lBw7sr8O6ibOKjJcJOZK6Sqp6Ra85c3NvZlnR1BwlKcu"
    "6jNQDOlW0O5P62YCz2gDjxqwBxnmhzCO9uDcKIQdUKaXEZsxWqb4VlmXCr3cfnyIrrYMeN"
    "7qSy23j6/uzkAAjJr97Z6e/8bzcMnj+3s5gKJymsKnmi5iRXpl5o/LyDgqmXkDOWnoKl55"
    "Jx3mtJStFeyBikFZA2hQ+LlxH+A52hSCMOS96V7KstShwLrRGTHvhDaT0nXXBRprElqT1n"
    "CFLUKcjvCS52VyX5cCOK91NK9XlBgSQSD2R6jcfHBRT5d+K9pZiFry69Qg8zzIHm0/qqy9"
    "sc5PO2GbEnV0VJPnUM+4T0nuetYd6iTJQaj1GV5P1w9SrFYcL+m3JptIA7RuyJRyLH3Ct7"
    "i1MkotMJ/Yajv8vVSdUKSEpqaAVs764fGHst2vZLSqumSj2s2PrVi6lGp/tlUi4OGaiw0m"
    "kwZHBqTVQ3lZ+vsYfppOgt6E8bTrlqQOxInamYaiqm6pACYAoBNFYIwJzk1XVvNyd5ddew"
    "gvW2nArlISCVl5bkV7zfzqe82ReXXCLI8gxd2V5q4VLeQ8GyjcqIv6Dgxud6Eu+ODF4zwm"
    "3Rl+NH3uHVgSziLwYGE+I68uyZaJEJovQFuIMudvgY+cZu7d+QY/9+WdBSi7Lo355yvs2U"
    "zaqXKii2kE3p+2Zqs2NK52tt8AlBY8S1bouPK3kifoOMGKhqOSlpDLk2a1nuomhNRWeEzS"
    "PdfmVbt0hpg0wINZgN12lkf3xT5czDm+IzD28yZx4kMaRe4dlUdk4QoRlnc1WQea2KzlsI"
    "bpEH2c0r5dy+Es6X+B6dk4L3Zy4vdku9Ut6Nr3G8X+WUC9kbTKAgmACZM8BdxavPw8sR+P"
    "mu9zNfNCc/yy5X70AAlSN6iByK5evmfuK+Jr/hIJciLwFjM1/yhHQML8KyeoZA/iNjogZR"
    "1KCkZvNWxa2b1MS2m1AtCVv/AV2+aJQErpMdSpfQe9lVMXh9KFco5Ig1KhjgNRA5iXIJu/"
    "z18Kf+7p6oZC/ItjGCPvIDzg1gCijj+3NOBLumMU1JqnbFqoPj/hNIcxKoVhWEiaTMHrQy"
    "cr1GJZinVoFp2d5iqsBox++bYyA/gE21vRmfxnLePss5qF564jkzEjAmWds51aXceg46Wy"
    "jsXd1+FmcxbPSCgt8uzriJC8XrnWyE7xCVBi+6kxVaMQOQ3iIHXBO/GxrIuabzE4er2Wou"
    "C7JqadANqpR9GhSXfRrsrCIV5n5OUKYY57C7jnHsnUGVfETRrTiSLS+mThvIRySLcUkd74"
    "WEKcuw3nswleBeCBi016kHtbxNhWUkJaYD8qlC0b0qjiLvVVwqupdxFZEnfnqep1hWICAm"
    "1WCJgGjP3NoKAQ6mErf1XsmdFtVvhm8k74si7lcrlXheSmhok2zkiMTMR3eYzKmlDnaOqH"
    "4Te7Ogr5UGlZU2OW9tYyIMrfhDqHmtMyoOEjXTfJz3+iyVEyrDORuTh/fBaI/bq/1mT6eE"
    "zNupx7HrFDNzwfVuFVoOL7oqnceWjr0oiCKUITJzRMwZO+8A/0YXB8k6oimss8LHFXSayJ"
    "gpP5j9xHGVT2jPfCJqKK9zRtscVak3lFWSLSQmheoL3mMy2nGpmynhIhGTICnjHElp6Lho"
    "c4S+ZUZyAzM6qOihtm7EZfSDuf7JHL1Eo8xPKNsp8+W1qWDbcBJIGNFcx11LiWror21pXc"
    "gq1UBn8NElMGehK44VxUS02LWbDhclPAfFZy0tayiwtnEjicRRxsT7R1SqssdFtNnLaqvG"
    "7kLKLOV3gieldLDNmliyWpJVdoh8bE86OZRVeKVbRlbBZZ9VLFUx+ObYQ7uOPdwhnyrmWs"
    "REtLBZ0mHo3Uph6N2SMPRu5tQDf6gUEA67a4hub6dKAiLvVcww7GTePMm/kaG8Fzn/+3J4"
    "XhAWW4qkzT5sM/A/4GK6jaceSsAVYJRvZul9K2XFiQGefTP7/n/b8dWh"
)

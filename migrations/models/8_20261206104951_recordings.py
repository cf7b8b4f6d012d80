from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "recordings" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "egress_id" VARCHAR(64) NOT NULL UNIQUE,
    "room_name" VARCHAR(128) NOT NULL,
    "session_sid" VARCHAR(64),
    "status" VARCHAR(16) NOT NULL,
    "audio_only" BOOL NOT NULL,
    "started_at" TIMESTAMPTZ NOT NULL,
    "ended_at" TIMESTAMPTZ,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "seen_active" BOOL NOT NULL,
    "files" TEXT NOT NULL,
    "error" TEXT
);
CREATE INDEX IF NOT EXISTS "idx_recordings_room_na_463510" ON "recordings" ("room_name", "id");
COMMENT ON TABLE "recordings" IS 'One egress of a room, as LiveKit last reported it (or Qari set it ending).';
        ALTER TABLE "rooms" ADD "recording" BOOL NOT NULL DEFAULT False;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "rooms" DROP COLUMN "recording";
        DROP TABLE IF EXISTS "recordings";"""


MODELS_STATE = (
    "eJztXdty2zgS/RWUXpJUaTKWLDte58lOlBlvHCtray41SYqGSNjCmiI1BORLzebfFwBJiX"
    "cRFEVTCF4SC0RD1AGI7j7daP7TmbkWssnrU+h0jsE/HQfOEPsj2twFHTifrxp5A4UTW/Sb"
    "QEc0wAmhHjQpa7uBNkGsyULE9PCcYpcP3Rk5CGALORTTJ8DEHGSBG8+dAZdd8Fz2x8vJE+"
    "vxqgseMJ2Ch+kTgI7F/kfOa/4Vlmuy78DObS2jLRz89wIZ1L1FdIo8NuaXLx0uyC+GI3e+"
    "feOfHAs9IsK78I/zO+MGI9uK4YUtLifaDfo0F22n+PbMoR9EX37/E8N07cXMWfWfP9Gp6y"
    "wFsEN56y1ykAcp4t9AvQXH0lnYdgB5CK//A1Zd/LuMyFjoBi5sPiNc2r+BVVvHMC5GY+Nq"
    "ODaMTmq2QokI5EGT6Tp8ptmtEgHALb+Fn/7V7+/vv+nv7R8eHQzevDk42jtifcX9pi+9+e"
    "7fzAotfyiB2dkvZxdjfkMuW07+GuMN34UMpNCXEpMRRT+Yr9QcvJtCL28GVjKJeWA/MDkP"
    "IepFExE2rGZi9Sg0MRUz+GjYyLmlU/axf3BYAPPvJ5fvfj25fMl6vYqDfRFc6vvXOO4rnD"
    "0EievIoLySqIRxsJTbCfFBr18CYtYrF2JxLQ6xyRBjcBiQpmF+z65QPEPZUMclE3Bbgejr"
    "8I8dXOAFYI/PPg2vxiefPvPhZ4T8bQu8TsZDfqUvWp8SrS+TS385CPjjbPwr4B/BX6OLoY"
    "DTJfTWE9+46jf+q8PvCS6oazjugwGtKCZhc9gUf5KYpjGylEauxohIrFcbOzCbgebo9wZv"
    "Bkf7h4Olwli2FOkJXydwdXxzl6kSQlUeR/eD6yF863xETwLkM3ZH0DFRBqiBAXQZDLNj4H"
    "4PV0/YutpLPfiwtF+ii4r9dvaLEfU39JOrdyfvhx2B8ASadw/Qs4wY1PyK23cTLcu+6Uuz"
    "/izZAh14K8Dhv4Lfc4D6BfsvyxwV7YX2qMOaJAzSueeaiBDg3gBmBQKCvHtssr6QiM8uNw"
    "0Ja2bGJs02QqVHyDA8NzEyiwyc+kyb57UxY1q31z8qoXVZr1ytK64VG5QLz5aBOuiuoBm5"
    "FRtniqBHJ8xaqWDlJGW1ndNqO4fpV6+aORuX1NPcumlOGV/PYyuMFnTiPp5QimZzmmU0xD"
    "sUWg+u6MqWnOgrYUcEEtwKgIANi++R97Q0AoIGjAjw2FcgYGNCSa5Jsclg662LLx3kWHOX"
    "rcLA8GP/ftO8Vit5rcRMlTVHEmIKmiWDvRJWyWAv1yjhl+I2CbpHDDCC/pZb7zExlfzyRl"
    "b+Cn6BmcQSD/sruLYPByXW9uEgd23zS3Fw4Ur3lSSbIhIqLeqNyKaEWUsXhAFmZazaXFQT"
    "UpWQbRsjXjOwyPNcT0rXhQI6vlDK9w6e7EouWVJWO2Wtc8qiU+2gRxr6MhVmO0O8hglv2R"
    "On0nyHrmKmt1BkxCYEVdL4DZixBUGoENgaAlE+i/E+MuCOTUjZkFRiMbYpLJWYg1yuKTpL"
    "a8mmFZ9Tnm4SXiegrsh2Cr39YzBnf7IpAAuHYjskipDVZUNhG1nA9QC5w/M5srKJp3qGrU"
    "BBhcHalTfNJL4Ie1k8EklVpPmqlvJVmkR5ThIlO+ehIDkr6K8giVJjlDju9UuxVEuB5hDu"
    "BLt1pxmYyyQZ9vJzDHupFMNo7EWOrCLN7h572906amNUWukFtm3zUMkNNG3IJsEyJlLp0H"
    "Ep9ci0rSiEEDRhGcs+WSlhza60+bHSsdiGY7GyrlxUSjsRdVFY4fqtgcL6A02mrns3jIy4"
    "YzNSlsNKPPTZHFZqxdfGEg7D0VSFN/Kky/KDKU/D8NyHDG/jNJD+8PES2VD8kjWoRzLMFM"
    "H9+/bJVH+p5jKpy5W8lkYVa0KWQj0GD1NIgTmFzi0nNLEDMCXi/GhXHBV9y+56NuFsJ5g8"
    "BQn+bMrYM+gVUKgbD1uGQo0c99J0aDvpUGkidBMKNGn6/zD4a/6zKXdXJ+ltMUmP7yJpcM"
    "foMS9oH/RXAtwiomD45zjGEYQgvvx08uerGE9wPrr4JeweAf3d+eg0AbZrmgvPq5QElRDV"
    "ZGirWRt9nF7ZaZY4f5TKyAmyLTZ1+RRMx2nA57sKfJ1Ortu37NEt4fmRaOe1vt+YOVs2JB"
    "RcM7lrcMvmzwEv/apBD8xVs0DvVdq1Ky1V8+nuH8VR2zDame+C8UmTT0iJSikTUX4OHvl5"
    "8vQ+Q49iE8+hQ68QIT5cqa0mo1fhdjNf9WdrQwhI8E1sThxk8hZ+rpPvHJHxun7tsv+6mO"
    "8qnmCLbrDH9huCb51XPCXPRvAeZXNO9Q1dhncSJUOC3x9wsDa6qZCWp/e2Dfc2IheJJIoW"
    "BKnfFdfl5JopJyf+l8A47K9edspW4L1jP00G3rB/g8mKPJ5pMX3faQTl+rMVdyIjlOt+tL"
    "MQ+3dfgcCJCercqrbRN9E5Dg1IyRmOiOn5bfP8WpgEToohX0I2U1g9E6B+M5Z7pXcMyEVW"
    "alGu95WQUob+qC2h3geIeVMZFHJ+uC4upcLybTpml0E8lFzSGZIqJYhus4RuCFsa7UqldC"
    "NE245hXTY3MWOttekI8yUyXc/yf2iKEV1d7BYRoV7YTSbdjpsTxC9p5+fBQQLO8T36iKkf"
    "WfHQ3OUFHwFr4ETlf6CHAUGUf/aPtGXEZeodujT9GRIRunRea3Pv/FUhe1gjKqSJ0rUWZu"
    "xhkMm6Mzai8tqmG5o4ehxoFFnOPy6mgtm57TXtF2mT5fQW1c36lq/m+k94LyzsGq5jZ8RX"
    "Tl3XRtDJxjkumMB6wiS3BfaypVkv6nQ0Oo95UadnSTfpt0+nQwa/QJ91wjSmHXUZ7h+MZ2"
    "PGbKVJjsppJrXNM7yYWxXzWeOS+kFu9TQThByDOdXMi5VUkglJrSUltOQNtrPygvNJ3aVA"
    "g9HcL986z/AAbYPQzan1mw+3UrV+m0C7JfmY4iVqWXxjcP6ugGpkPUqyjCf+a19NG/ODwC"
    "A4vvEWXPvu2bV4/eu1s5gZkexI1nzj2rb7IA7hPvgFCkiaZ6x7cJ0m3q5UykYz0VoGbbzm"
    "eJliLgf5xVwOUsVcoMnfj2fknx0dsscmFUKKO/7xIZospreY2NiUVLidz7+dnp+9Owa+9F"
    "dnPPo4vGCz6t4h56tz8WHM5uKGJjeZ52FjxE1x05Qz3zKPQEpQBaWcqGxUpv7+IL/8/iBV"
    "fT8AbZadk7EW7FlOVoYCWB+V2XiO8jeeo9TG4/DkMPl1nRBTD+n6V7U5ZV8lXa8rKtVcOk"
    "ZvuxZKwxUv+GKN5lBX0a7JMRpUr8gz3/R7sup1ePmOSR0DX/qrwz73egcHooH/UUWxlgnZ"
    "5QfsUuE6jqm/Z8vF65Jy6u0+9e/z/Aj2HaayodGE2JaQVina7z4wMGQgXgooB279OpSXjn"
    "syOPXuLmTSdVNyzanSw71dSdm1EKdlFh6qAHCmbHMg93cFY/58RMkvCYizRJtD+GBnEEYU"
    "ylaJisqoYEw0HaMoygZab1o/R2ZQB1t2eCelTeqz9+fDY8AlvzrnZ7+zv+0ggPjchnSCUp"
    "fYVbJE9WmWVM3EaM63RJw5JqejzBJRZl2SLH9xsx9ojXiCX1CMqmC3b1FKR6AjdeLODzXr"
    "GYk8ywJqLQm6nyNIUCcn8u5f7K4LvzPVzvpJBeFfECBc/2MR+HbYuIAg756/QxDT4DWC1+"
    "hxjhnQbFlfd1mbhTzWNnfN6XVe+L2OYTcIvD9vdeEWxYhrPOBQEJHPfLV6AXOa/VL12gxt"
    "JeCO0E38kZCL1yxFVDo723C8ZrU7yVoBcUkFrYDd1fq+sdcitV9Q9DBxCHuN6pcvcxieux"
    "XpcjjgRYIahP6Q/nkSXndQfL7BDibTvDcSbzac9HneyGEXXctQ1zJUIWinj+g2dkRXn7FT"
    "VbfrM3aqz7CE9bZaCsWBCZnXCWTXot7Np7zZVwpcIUizDF3RXmjhEtZDwrINC/y+IODWY/"
    "PE3+rmvwCA2aIvJ0+sw6tjUV6bDwymrm2JUyG8RaR0kRfgHtrYYmNkG7u1f0OG/ftlSUst"
    "CxZ/2+TkiS5oUy9VkG8h66LUzVRNxoQsKin4mKA24lqn4qOTPOW/odJb2+OS2pBr8ywLLY"
    "oqTnRKWD/S7Z9s4w5JKciYUIM5Wp1G9ON+mSzl/fws5f1UlrIghuRrr+qaqzEiNOVsrgsy"
    "V6q1uoPg5nmQ3awiq+0rrnqFH9CFm/Nmu9XFbqFXyrqxPY71K51yIXqDKeQEE3AXlL9T/P"
    "rz6GoMfr7v/cw2zenPosv1W+BDtXzr+OpFUD8xX5PdsJ9LkZWAsZ0v2SAdwwmxLJ8hkP3I"
    "6KhBGDUoqKa6U3HrJmdi102oloSt/4A22zQKAtfxDoVb6IPoKhm8PhE7FLL4HuUP8BrwnE"
    "SxhV39evJT/+CQ15jmZNsEQQ95PucGMAGEMv2cEcGuaUxdLKZdsWr/gO4UkowEqnUlHEIp"
    "rYPWRq4r1G7YtG5Dy3SLrtugHL+vj4H8ADbV7mZ8ast59yxnv67g0LHmrs+YpG3nRJdi69"
    "nvbKCgd3n7mZ/FMNELAn67PGcmLuQvXjERvkdEGLzoXtROxBRAcocscON63cBAzjSdNxyu"
    "Zqu5KMiqpEE3KFOoZZBfqGWwt45UWHgZQZl8nIPuKsax9wZl8hF5t/xItriYOG0gHpE0xg"
    "UVdpcSulhAtTfUScG9FNBoy6MdvU2JbSQhpgLyiRKuvTKOIuuVX8S1ly5P5PCfnuUpFhUJ"
    "iEg1WCIg1Jk7WyHAwkTgVu1luUlR9Vb4VvK+CGJ+tVRR1pWEgjbJVo5IzD10j90FMeTBzh"
    "BVb2FvF/RKaVBpaZ3z1jYmQtOKP8Q0VzqjYiFeycvDWS+2kTmhMlrQifv43h/taXdnv9nT"
    "KQHzduYw7Dr5zJx/vVuGlsPLrlLnsYVjzwui8MngmTk85oytt4B9o439ZB3eFNRZYeNyOo"
    "1nzBQfzN5wXOkT2nPP5e+CqHJGWx9VqTeUVZAtxBeF7KuXIzLKcanbKeEiEBMgSeMcSino"
    "uChzhL5lRnIDK9qv6CG3b0Rl1IO5/sUclr0v8hOKNGW2vDJ1VRtOAgkimlXctYSogv7ajt"
    "aFLFMNdA6fbBdmbHT5saKIiBJau+lwUcxzkHzWkrKaAmsbNxJLHKWUvxVDplZ4VEQZXVZb"
    "jXAbEmpIv603LqWCbdbEltWSrLIT5GFz2smgrIIr3SKyCq76rGOp8sHXxx7adezhHnlEMt"
    "ciIqKEzZIMQx+UCkMfFIShD1KnHthDJYFw0F1BdHt7ZRIQWa98hmEv9a449o0UZb169d9X"
    "o4ucsNhKJGn2YZOC/wEbk1089VAALgejWJkl9VbCiuMDPLsy+/5/0vU3wQ=="
)

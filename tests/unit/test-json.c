/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "json-util.h"
#include "tap.h"
#include "util.h"

TEST(big_integers_survive)
{
        const char *t = "{\"a\":18446744073709551615,\"b\":[9223372036854775808, 5],\"s\":\"18446744073709551615\"}";
        json_t *j = NULL;
        Error *e = NULL;
        uint64_t u = 0;
        int64_t i = 0;
        char *s = NULL;

        ASSERT_OK(jx_parse(t, strlen(t), "t", &j, &e));
        ASSERT_EQ(jx_uint64(j, "", "a", true, &u, &e), 1);
        ASSERT_TRUE(u == UINT64_MAX);
        /* A big integer is not a string, and not an int64. */
        ASSERT_TRUE(jx_int64(j, "", "a", true, &i, &e) < 0);
        ASSERT_STREQ(e->msg, "a: expected an integer in the int64 range");
        error_clear(&e);
        ASSERT_EQ(jx_string(j, "", "s", true, &s, &e), 1);
        ASSERT_STREQ(s, "18446744073709551615");
        free(s);
        s = NULL;
        json_decref(j);
}

TEST(too_big_for_uint64)
{
        const char *t = "{\"a\":184467440737095516150}";
        json_t *j = NULL;
        Error *e = NULL;
        uint64_t u;
        ASSERT_OK(jx_parse(t, strlen(t), "t", &j, &e));
        ASSERT_TRUE(jx_uint64(j, "", "a", true, &u, &e) < 0);
        ASSERT_STREQ(e->msg, "a: expected an integer in the uint64 range");
        error_free(e);
        json_decref(j);
}

TEST(strings_in_strings_untouched)
{
        const char *t = "{\"a\":\"x\\\"99999999999999999999\",\"n\":-5}";
        json_t *j = NULL;
        Error *e = NULL;
        char *s = NULL;
        int64_t n = 0;
        ASSERT_OK(jx_parse(t, strlen(t), "t", &j, &e));
        ASSERT_EQ(jx_string(j, "", "a", true, &s, &e), 1);
        ASSERT_STREQ(s, "x\"99999999999999999999");
        ASSERT_EQ(jx_int64(j, "", "n", true, &n, &e), 1);
        ASSERT_EQ(n, -5);
        free(s);
        json_decref(j);
}

TEST(depth_limit)
{
        char buf[300];
        json_t *j = NULL;
        Error *e = NULL;
        memset(buf, '[', 100);
        memset(buf + 100, ']', 100);
        buf[200] = '\0';
        ASSERT_TRUE(jx_parse(buf, strlen(buf), "deep", &j, &e) < 0);
        ASSERT_CONTAINS(e->msg, "nested deeper than 64");
        error_free(e);
}

TEST(duplicate_keys_refused)
{
        const char *t = "{\"a\":1,\"a\":2}";
        json_t *j = NULL;
        Error *e = NULL;
        ASSERT_TRUE(jx_parse(t, strlen(t), "t", &j, &e) < 0);
        ASSERT_CONTAINS(e->msg, "duplicate");
        error_free(e);
}

TEST(types)
{
        const char *t = "{\"b\":1,\"u\":-1,\"o\":[],\"v\":[1]}";
        json_t *j = NULL;
        Error *e = NULL;
        bool b;
        uint32_t u;
        json_t *o;
        char **v = NULL;
        ASSERT_OK(jx_parse(t, strlen(t), "t", &j, &e));
        ASSERT_TRUE(jx_bool(j, "x", "b", true, &b, &e) < 0);
        ASSERT_STREQ(e->msg, "x.b: expected a boolean");
        error_clear(&e);
        ASSERT_TRUE(jx_uint32(j, "", "u", true, &u, &e) < 0);
        error_clear(&e);
        ASSERT_TRUE(jx_object(j, "", "o", true, &o, &e) < 0);
        ASSERT_STREQ(e->msg, "o: expected an object");
        error_clear(&e);
        ASSERT_TRUE(jx_strv(j, "", "v", true, &v, &e) < 0);
        error_clear(&e);
        ASSERT_EQ(jx_bool(j, "", "missing", false, &b, &e), 0);
        json_decref(j);
}

TEST(nul_in_string_refused)
{
        const char *t = "{\"s\":\"a\\u0000b\"}";
        json_t *j = NULL;
        Error *e = NULL;
        char *s = NULL;
        /* jansson rejects \u0000 without JSON_ALLOW_NUL: either way no truncated string gets through. */
        if (jx_parse(t, strlen(t), "t", &j, &e) < 0) {
                error_free(e);
                return;
        }
        ASSERT_TRUE(jx_string(j, "", "s", true, &s, &e) < 0);
        error_free(e);
        json_decref(j);
}

TEST(big_integers_written_back)
{
        json_t *o = json_object();
        char *s;
        json_object_set_new(o, "max", jx_uint64_new(UINT64_MAX));
        json_object_set_new(o, "small", jx_uint64_new(42));
        json_object_set_new(o, "text", json_string("\"quoted\" \xef\xb7\x90 not a number"));
        s = jx_dump(o, false);
        ASSERT_STREQ(s, "{\"max\":18446744073709551615,\"small\":42,\"text\":\"\\\"quoted\\\" \xef\xb7\x90 not a number\"}");
        free(s);
        json_decref(o);
}

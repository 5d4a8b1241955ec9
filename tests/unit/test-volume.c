/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * volume.c's filters (VolumeFilter), shared by `stockade volume ls/prune` and the API's GET /volumes
 * and POST /volumes/prune: the keys each takes, the messages of a refusal, and the matching (names by
 * substring, labels all required, label! excluding, dangling by the containers' Mounts).
 */
#include <string.h>

#include "tap.h"
#include "util.h"
#include "volume.h"

static json_t *vol(const char *name, const char *labels_json)
{
        return json_pack("{s:s, s:s, s:o}", "Name", name, "Driver", "local", "Labels", json_loads(labels_json, 0, NULL));
}

static const char *refusal(const char *kv, bool prune)
{
        static char msg[256];
        VolumeFilter f = VOLUME_FILTER_INIT;
        Error *err = NULL;

        msg[0] = '\0';
        if (volume_filter_add(&f, kv, prune, &err) < 0) {
                snprintf(msg, sizeof(msg), "%s", err->msg);
                error_free(err);
        }
        volume_filter_done(&f);
        return msg;
}

TEST(keys_and_messages)
{
        static const struct {
                const char *kv;
                bool prune;
                const char *want; /* "": accepted */
        } cases[] = {
                { "dangling=true", false, "" },
                { "name=x", false, "" },
                { "driver=local", false, "" },
                { "label=a=b", false, "" },
                { "dangling=maybe", false, "invalid filter 'dangling=maybe' (true, false, 1 or 0)" },
                { "until=10m", false, "invalid filter 'until' (dangling, name, label and driver are)" },
                { "label!=a", false, "invalid filter 'label!' (dangling, name, label and driver are)" },
                { "dangling", false, "bad format of filter 'dangling' (expected name=value)" },
                { "label!=a", true, "" },
                { "all=1", true, "" },
                { "all=yes", true, "invalid filter 'all=yes' (true, false, 1 or 0)" },
                { "name=x", true, "invalid filter 'name' (label, label! and all are)" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                ASSERT_STREQ(refusal(cases[i].kv, cases[i].prune), cases[i].want);
}

TEST(prune_all)
{
        VolumeFilter f = VOLUME_FILTER_INIT;
        ASSERT_OK(volume_filter_add(&f, "all=false", true, NULL));
        ASSERT_TRUE(!f.all);
        ASSERT_OK(volume_filter_add(&f, "all=true", true, NULL));
        ASSERT_TRUE(f.all);
        ASSERT_OK(volume_filter_add(&f, "label!=keep", true, NULL));
        ASSERT_STREQ(f.labels_not[0], "keep");
        volume_filter_done(&f);
        ASSERT_TRUE(!f.all && !f.labels_not);
}

TEST(matching)
{
        json_t *a = vol("data-one", "{\"team\":\"a\",\"tier\":\"db\"}"), *b = vol("cache", "{\"team\":\"b\"}");
        json_t *ctrs = json_pack("[{s:[{s:s, s:s}]}, {s:[{s:s, s:s}]}]", "Mounts", "Type", "volume", "Name", "cache", "Mounts",
                                 "Type", "bind", "Name", "data-one");
        VolumeFilter f = VOLUME_FILTER_INIT;

        ASSERT_TRUE(volume_filter_match(&f, a, ctrs) && volume_filter_match(&f, b, ctrs));
        /* names: substrings, alternatives */
        ASSERT_OK(volume_filter_add(&f, "name=one", false, NULL));
        ASSERT_TRUE(volume_filter_match(&f, a, ctrs) && !volume_filter_match(&f, b, ctrs));
        ASSERT_OK(volume_filter_add(&f, "name=cac", false, NULL));
        ASSERT_TRUE(volume_filter_match(&f, a, ctrs) && volume_filter_match(&f, b, ctrs));
        volume_filter_done(&f);
        /* labels: every one must hold, with or without a value */
        ASSERT_OK(volume_filter_add(&f, "label=team", false, NULL));
        ASSERT_OK(volume_filter_add(&f, "label=tier=db", false, NULL));
        ASSERT_TRUE(volume_filter_match(&f, a, ctrs) && !volume_filter_match(&f, b, ctrs));
        volume_filter_done(&f);
        ASSERT_OK(volume_filter_add(&f, "driver=nfs", false, NULL));
        ASSERT_TRUE(!volume_filter_match(&f, a, ctrs));
        volume_filter_done(&f);
        /* dangling: no container mounts it as a volume (a bind of the same name does not count) */
        ASSERT_OK(volume_filter_add(&f, "dangling=1", false, NULL));
        ASSERT_TRUE(volume_filter_match(&f, a, ctrs) && !volume_filter_match(&f, b, ctrs));
        ASSERT_OK(volume_filter_add(&f, "dangling=false", false, NULL));
        ASSERT_TRUE(!volume_filter_match(&f, a, ctrs) && volume_filter_match(&f, b, ctrs));
        volume_filter_done(&f);
        json_decref(a);
        json_decref(b);
        json_decref(ctrs);
}

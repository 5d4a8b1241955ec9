/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The API's volume endpoints (docs/API.md), dockerd 20.10's shapes over the engine's volumes
 * (src/engine/volume.c), which `stockade volume` uses too.  One difference, kept on purpose: a prune
 * without the `all` filter removes only anonymous volumes (docker 23's default), where dockerd 20.10
 * removed every unused one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "container-store.h"
#include "json-util.h"
#include "serve.h"
#include "util.h"
#include "volume.h"

typedef struct FilterParse {
        VolumeFilter *f;
        bool prune;
} FilterParse;

static int filter_add(void *ud, const char *kv, Error **err)
{
        FilterParse *p = ud;
        return volume_filter_add(p->f, kv, p->prune, err);
}

/* The filters query parameter into f; a 400 answered (and <0) when it is refused. */
static int parse_filters(ApiConn *c, VolumeFilter *f, bool prune)
{
        FilterParse p = { .f = f, .prune = prune };
        Error *err = NULL;

        if (api_query_filters(c, filter_add, &p, &err) < 0) {
                err->errnum = EINVAL;
                return api_reply_err(c, err), -EINVAL;
        }
        return 0;
}

/* GET /volumes?filters= */
int api_volumes_list(ApiConn *c, const char *unused)
{
        _cleanup_json_ json_t *vols = NULL, *ctrs = NULL, *list = json_array(), *out = NULL;
        VolumeFilter f = VOLUME_FILTER_INIT;
        Error *err = NULL;
        size_t i;
        json_t *v;

        api_actor(c, "volume ls", "volume", NULL, NULL);
        if (parse_filters(c, &f, false) < 0)
                return 0;
        if (volume_list(c->e, &vols, &err) < 0 || container_list(c->e, &ctrs, &err) < 0) {
                volume_filter_done(&f);
                return api_reply_err(c, err);
        }
        json_array_foreach(vols, i, v) if (volume_filter_match(&f, v, ctrs))
                json_array_append(list, v);
        volume_filter_done(&f);
        out = json_pack("{s:O, s:n}", "Volumes", list, "Warnings");
        return api_reply_json(c, 200, out);
}

/* A body field that must be an object of strings, or absent or null (then *ret is NULL). */
static int string_map(json_t *body, const char *field, json_t **ret, Error **err)
{
        json_t *m = json_object_get(body, field), *v;
        const char *k;

        *ret = NULL;
        if (!m || json_is_null(m))
                return 0;
        if (!json_is_object(m))
                return error_setx(err, EINVAL, "%s: expected an object of strings", field);
        json_object_foreach(m, k, v) if (!json_is_string(v))
                return error_setx(err, EINVAL, "%s.%s: expected a string", field, k);
        *ret = m;
        return 0;
}

/* A body field that must be a string, or absent or null (then *ret is NULL). */
static int string_field(json_t *body, const char *field, const char **ret, Error **err)
{
        json_t *s = json_object_get(body, field);

        *ret = NULL;
        if (!s || json_is_null(s))
                return 0;
        if (!json_is_string(s))
                return error_setx(err, EINVAL, "%s: expected a string", field);
        *ret = json_string_value(s);
        return 0;
}

/* POST /volumes/create {Name, Driver, DriverOpts, Labels}: 201 with the volume, made or found. */
int api_volumes_create(ApiConn *c, const char *unused)
{
        _cleanup_json_ json_t *body = NULL, *vol = NULL;
        const char *name = NULL, *driver = NULL;
        json_t *opts = NULL, *labels = NULL;
        Error *err = NULL;

        api_actor(c, "volume create", "volume", NULL, NULL);
        if (api_json_body(c, false, &body) < 0)
                return 0;
        if (string_field(body, "Name", &name, &err) < 0 || string_field(body, "Driver", &driver, &err) < 0 ||
            string_map(body, "DriverOpts", &opts, &err) < 0 || string_map(body, "Labels", &labels, &err) < 0)
                return api_reply_err(c, err);
        api_actor(c, NULL, NULL, NULL, name);
        /* no name: a random one, and (as docker 23 marks it) an anonymous volume, which a default prune removes */
        if (volume_create(c->e, name && *name ? name : NULL, driver, labels, opts, !name || !*name, &vol, NULL, &err) < 0)
                return api_reply_err(c, err);
        name = json_string_value(json_object_get(vol, "Name"));
        api_actor(c, NULL, NULL, name, name);
        return api_reply_json(c, 201, vol);
}

/* GET /volumes/{name} */
int api_volumes_inspect(ApiConn *c, const char *name)
{
        _cleanup_json_ json_t *vol = NULL;
        Error *err = NULL;

        api_actor(c, "volume inspect", "volume", name, name);
        if (volume_get(c->e, name, &vol, &err) < 0)
                return api_reply_err(c, err);
        return api_reply_json(c, 200, vol);
}

/* DELETE /volumes/{name}?force=: 204; in use 409 (force or not, as dockerd); missing 404, or 204 with force. */
int api_volumes_delete(ApiConn *c, const char *name)
{
        Error *err = NULL;
        int r;

        api_actor(c, "volume rm", "volume", name, name);
        r = volume_remove(c->e, name, NULL, &err);
        if (r == -ENOENT && api_query_bool(c, "force")) {
                error_free(err);
                return api_reply_status(c, 204);
        }
        if (r < 0)
                return api_reply_err(c, err);
        return api_reply_status(c, 204);
}

/* POST /volumes/prune?filters=: unused anonymous volumes, or every unused one with the `all` filter. */
int api_volumes_prune(ApiConn *c, const char *unused)
{
        _cleanup_json_ json_t *deleted = json_array(), *out = NULL;
        VolumeFilter f = VOLUME_FILTER_INIT;
        char **gone = NULL;
        uint64_t size = 0;
        Error *err = NULL;
        int r;

        api_actor(c, "volume prune", "volume", NULL, NULL);
        if (parse_filters(c, &f, true) < 0)
                return 0;
        r = volume_prune(c->e, f.all, f.labels, f.labels_not, &gone, &size, &err);
        volume_filter_done(&f);
        if (r < 0)
                return api_reply_err(c, err);
        for (size_t i = 0; gone[i]; i++)
                json_array_append_new(deleted, json_string(gone[i]));
        strv_free(gone);
        out = json_pack("{s:O, s:I}", "VolumesDeleted", deleted, "SpaceReclaimed", (json_int_t)size);
        return api_reply_json(c, 200, out);
}

json_t *api_volumes_usage(ApiConn *c, json_t *recs, Error **err)
{
        _cleanup_json_ json_t *vols = NULL;
        json_t *out, *v, *r;
        size_t i, k;

        if (volume_list(c->e, &vols, err) < 0)
                return NULL;
        out = json_array();
        json_array_foreach(vols, i, v) {
                const char *name = json_string_value(json_object_get(v, "Name")) ?: "";
                json_int_t refs = 0;
                json_array_foreach(recs, k, r) refs += volume_record_uses(r, name);
                json_t *row = json_deep_copy(v);
                json_object_set_new(row, "UsageData", json_pack("{s:I, s:I}", "Size", (json_int_t)volume_size(c->e, name),
                                                                "RefCount", refs));
                json_array_append_new(out, row);
        }
        return out;
}

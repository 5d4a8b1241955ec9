/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idmap.h"
#include "subid.h"
#include "util.h"

static const char *remap_setting(Engine *e, json_t *host)
{
        const char *remap = json_string_value(json_object_get(e->daemon, "userns-remap"));
        const char *mode = json_string_value(json_object_get(host, "UsernsMode"));

        if (!remap || !*remap || (mode && STREQ(mode, "host")))
                return NULL;
        return remap;
}

int userns_check(Engine *e, json_t *host, Error **err)
{
        const char *net = json_string_value(json_object_get(host, "NetworkMode"));
        const char *pid = json_string_value(json_object_get(host, "PidMode"));

        if (!remap_setting(e, host))
                return 0;
        if (json_is_true(json_object_get(host, "Privileged")))
                return error_setx(err, EINVAL, "privileged mode is incompatible with user namespaces.  You must run the "
                                  "container in the host namespace when running privileged mode (--userns=host)");
        if (net && STREQ(net, "host"))
                return error_setx(err, EINVAL, "cannot share the host's network namespace when user namespaces are "
                                  "enabled (--userns=host)");
        if (pid && STREQ(pid, "host"))
                return error_setx(err, EINVAL, "cannot share the host PID namespace when user namespaces are enabled "
                                  "(--userns=host)");
        return 0;
}

int userns_mappings(Engine *e, json_t *host, json_t **ret_uid, json_t **ret_gid, char ***warnings, Error **err)
{
        _cleanup_(subid_remap_freep) SubidRemap *rm = NULL;
        const char *remap = remap_setting(e, host);
        SubidConfig cfg = { .create_user = subid_useradd };
        int r;

        *ret_uid = *ret_gid = NULL;
        if (!remap)
                return 0;
        r = subid_remap_resolve(&cfg, remap, &rm, err);
        if (r < 0)
                return error_wrap(err, "%s: userns-remap \"%s\"", e->config_file, remap);
        for (size_t i = 0; rm->warnings && rm->warnings[i]; i++)
                strv_push(warnings, rm->warnings[i]);
        *ret_uid = subid_mappings_json(rm->uid_map, rm->n_uid_map);
        *ret_gid = subid_mappings_json(rm->gid_map, rm->n_gid_map);
        return 0;
}

static uint32_t root_of(json_t *maps)
{
        size_t i;
        json_t *m;

        json_array_foreach(maps, i, m) {
                if (json_integer_value(json_object_get(m, "containerID")) == 0)
                        return (uint32_t)json_integer_value(json_object_get(m, "hostID"));
        }
        return 0;
}

void userns_root(json_t *rec, uid_t *ret_uid, gid_t *ret_gid)
{
        json_t *s = json_object_get(rec, "Stockade");

        *ret_uid = root_of(json_object_get(s, "UidMappings"));
        *ret_gid = root_of(json_object_get(s, "GidMappings"));
}

/* OCI's mapping objects → OciIdMap (malloc'd); -EINVAL when one is malformed. */
static int maps_from_json(json_t *a, OciIdMap **ret, size_t *ret_n)
{
        size_t n = json_array_size(a), i;
        OciIdMap *m = xcalloc(n ? n : 1, sizeof(*m));
        json_t *v;

        json_array_foreach(a, i, v) {
                json_int_t c = json_integer_value(json_object_get(v, "containerID"));
                json_int_t h = json_integer_value(json_object_get(v, "hostID"));
                json_int_t z = json_integer_value(json_object_get(v, "size"));
                if (c < 0 || h < 0 || z <= 0 || c > UINT32_MAX || h > UINT32_MAX || z > UINT32_MAX) {
                        free(m);
                        return -EINVAL;
                }
                m[i] = (OciIdMap){ .container_id = (uint32_t)c, .host_id = (uint32_t)h, .size = (uint32_t)z };
        }
        *ret = m;
        *ret_n = n;
        return 0;
}

int userns_idmap_layers(json_t *rec, const char *layers_root, const char *idl, const char *cdir, Error **err)
{
        json_t *s = json_object_get(rec, "Stockade");
        _cleanup_free_ OciIdMap *um = NULL, *gm = NULL;
        _cleanup_close_ int ns = -EBADF;
        size_t nu = 0, ng = 0;
        uid_t uid;
        gid_t gid;
        int r;

        if (maps_from_json(json_object_get(s, "UidMappings"), &um, &nu) < 0 ||
            maps_from_json(json_object_get(s, "GidMappings"), &gm, &ng) < 0)
                return error_setx(err, EINVAL, "the container's record has malformed Stockade.UidMappings/GidMappings");
        userns_root(rec, &uid, &gid);
        {
                /*
                 * The runtime mounts the rootfs as the container's root, in its user namespace: the
                 * path must be traversable for it, as dockerd makes its root 0711 with userns-remap.
                 * The data root and containers/ let anyone through but list nothing; the container's
                 * own directory only lets its root's group through (root:GID 0710).
                 */
                _cleanup_free_ char *containers = xasprintf("%s/..", cdir), *data_root = xasprintf("%s/../..", cdir);
                if (chmod(data_root, 0711) < 0 || chmod(containers, 0711) < 0 || chown(cdir, 0, gid) < 0 ||
                    chmod(cdir, 0710) < 0)
                        return error_set(err, errno, "opening the path to %s to the container's root (%u:%u)", cdir, uid, gid);
        }
        {
                static const char *const owned[] = { "upper", "hostname", "hosts", "resolv.conf" };
                for (size_t i = 0; i < ELEMENTSOF(owned); i++) {
                        _cleanup_free_ char *p = xasprintf("%s/%s", cdir, owned[i]);
                        if (lchown(p, uid, gid) < 0 && errno != ENOENT)
                                return error_set(err, errno, "giving %s to the container's root (%u:%u)", p, uid, gid);
                }
        }
        r = idmap_userns_fd(um, nu, gm, ng, &ns, err);
        if (r < 0)
                return error_wrap(err, "the container's user namespace mappings");
        (void)umount2(idl, MNT_DETACH);
        if (mkdir(idl, 0700) < 0 && errno != EEXIST)
                return error_set(err, errno, "creating %s", idl);
        r = idmap_bind(layers_root, idl, ns, false, err);
        if (r < 0) {
                (void)rmdir(idl);
                return error_wrap(err, "the image's layers for a remapped container");
        }
        return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/stat.h>

#include "containers.h"
#include "daemon_config.h"
#include "paths.h"
#include "util.h"

#define CONFIG_FILE "config.v2.json"
#define CONFIG_MAX_SIZE (64u * 1024u * 1024u)

/* The volume mounts of one parsed config.v2.json whose Source lies below
 * old_root, in document order. */
static int each_stale_mount(cJSON *doc, const char *old_root,
                            int (*fn)(cJSON *source, void *userdata), void *userdata) {
        cJSON *mounts = cJSON_GetObjectItemCaseSensitive(doc, "MountPoints");
        cJSON *mount;
        int count = 0;

        cJSON_ArrayForEach(mount, mounts) {
                cJSON *type = cJSON_GetObjectItemCaseSensitive(mount, "Type");
                cJSON *source = cJSON_GetObjectItemCaseSensitive(mount, "Source");
                if (!cJSON_IsString(type) || !streq(type->valuestring, "volume") || !cJSON_IsString(source))
                        continue;
                if (!path_is_same_or_below(old_root, source->valuestring) || streq(source->valuestring, old_root))
                        continue;
                if (fn) {
                        int r = fn(source, userdata);
                        if (r < 0)
                                return r;
                }
                count++;
        }
        return count;
}

/* The exact JSON text of a string, as cJSON writes it. */
static char *json_string_text(const char *s) {
        _cleanup_(cJSON_Deletep) cJSON *item = cJSON_CreateString(s);
        return item ? cJSON_PrintUnformatted(item) : NULL;
}

/* Replaces every occurrence of needle in *text (of *size bytes). */
static int replace_all(char **text, size_t *size, const char *needle, const char *replacement, unsigned *ret_n) {
        size_t needle_len = strlen(needle), replacement_len = strlen(replacement);
        unsigned n = 0;

        for (const char *p = *text; (p = strstr(p, needle)); p += needle_len)
                n++;
        if (n == 0) {
                *ret_n = 0;
                return 0;
        }
        size_t new_size = *size - n * needle_len + n * replacement_len;
        char *out = malloc(new_size + 1), *w = out;
        if (!out)
                return -ENOMEM;
        const char *p = *text, *hit;
        while ((hit = strstr(p, needle))) {
                memcpy(w, p, (size_t) (hit - p));
                w += hit - p;
                memcpy(w, replacement, replacement_len);
                w += replacement_len;
                p = hit + needle_len;
        }
        size_t rest = *size - (size_t) (p - *text);
        memcpy(w, p, rest);
        w[rest] = 0;
        free(*text);
        *text = out;
        *size = new_size;
        *ret_n = n;
        return 0;
}

typedef struct Rewrite {
        const char *old_root;
        const char *new_root;
        char **text;
        size_t *size;
        unsigned mounts;
} Rewrite;

static int rewrite_one(cJSON *source, void *userdata) {
        Rewrite *rw = userdata;
        const char *rest = source->valuestring + strlen(rw->old_root);
        _cleanup_free_ char *new_source = strdup_printf("%s%s", rw->new_root, rest);
        if (!new_source)
                return -ENOMEM;

        _cleanup_free_ char *old_text = json_string_text(source->valuestring);
        _cleanup_free_ char *new_text = json_string_text(new_source);
        _cleanup_free_ char *needle = old_text ? strdup_printf("\"Source\":%s", old_text) : NULL;
        _cleanup_free_ char *replacement = new_text ? strdup_printf("\"Source\":%s", new_text) : NULL;
        if (!needle || !replacement)
                return -ENOMEM;

        unsigned n = 0;
        int r = replace_all(rw->text, rw->size, needle, replacement, &n);
        if (r < 0)
                return r;
        /* Not found as cJSON would write it (and not already replaced for
         * an earlier mount with the same Source): dockerd escaped it
         * otherwise. Refuse rather than guess. */
        if (n == 0 && !strstr(*rw->text, replacement))
                return -EBADMSG;
        if (!cJSON_SetValuestring(source, new_source))
                return -ENOMEM;
        rw->mounts++;
        return 0;
}

static int rewrite_file(const char *path, const char *old_root, const char *new_root, unsigned *ret_mounts) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        struct stat st;
        int r;

        r = read_full_file(path, CONFIG_MAX_SIZE, &text, &size);
        if (r < 0)
                return r;
        if (stat(path, &st) < 0)
                return negative_errno();

        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_ParseWithLength(text, size);
        if (!cJSON_IsObject(doc))
                return -EBADMSG;

        Rewrite rw = { .old_root = old_root, .new_root = new_root, .text = &text, .size = &size };
        r = each_stale_mount(doc, old_root, rewrite_one, &rw);
        if (r <= 0) {
                *ret_mounts = 0;
                return r;
        }

        /* The edited text must mean exactly the intended document. */
        _cleanup_(cJSON_Deletep) cJSON *check = cJSON_ParseWithLength(text, size);
        if (!check || !cJSON_Compare(doc, check, true))
                return -EBADMSG;

        r = write_file_atomic(path, text, size, &st, true);
        if (r < 0)
                return r;
        *ret_mounts = rw.mounts;
        return 0;
}

typedef int (*config_fn)(const char *path, void *userdata);

static int each_container_config(const char *root, config_fn fn, void *userdata) {
        _cleanup_free_ char *dir = strdup_printf("%s/containers", root);
        if (!dir)
                return -ENOMEM;
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : negative_errno();

        struct dirent *de;
        int result = 0;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *path = strdup_printf("%s/%s/%s", dir, de->d_name, CONFIG_FILE);
                if (!path)
                        return -ENOMEM;
                if (access(path, F_OK) < 0)
                        continue;
                int r = fn(path, userdata);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        result = -EIO;
        }
        return result;
}

typedef struct RewriteAll {
        const char *old_root;
        const char *new_root;
        containers_report_fn on_error;
        void *userdata;
        unsigned mounts;
} RewriteAll;

static int rewrite_config(const char *path, void *userdata) {
        RewriteAll *all = userdata;
        unsigned mounts = 0;
        int r = rewrite_file(path, all->old_root, all->new_root, &mounts);
        if (r < 0) {
                if (all->on_error)
                        all->on_error(path, "rewrite volume paths in", r, all->userdata);
                return r;
        }
        all->mounts += mounts;
        return 0;
}

int containers_rewrite_volume_sources(const char *new_root, const char *old_root, containers_report_fn on_error,
                                      void *userdata, unsigned *ret_mounts) {
        RewriteAll all = { .old_root = old_root, .new_root = new_root, .on_error = on_error, .userdata = userdata };
        int r = each_container_config(new_root, rewrite_config, &all);
        if (ret_mounts)
                *ret_mounts = all.mounts;
        return r;
}

typedef struct Count {
        const char *old_root;
        int n;
} Count;

static int count_config(const char *path, void *userdata) {
        Count *c = userdata;
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r = read_full_file(path, CONFIG_MAX_SIZE, &text, &size);
        if (r < 0)
                return r;
        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_ParseWithLength(text, size);
        if (!cJSON_IsObject(doc))
                return -EBADMSG;
        r = each_stale_mount(doc, c->old_root, NULL, NULL);
        if (r > 0)
                c->n += r;
        return 0;
}

int containers_count_sources_below(const char *root, const char *old_root) {
        Count c = { .old_root = old_root };
        int r = each_container_config(root, count_config, &c);
        return r < 0 ? r : c.n;
}

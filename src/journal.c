/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon_config.h"
#include "journal.h"

#define JOURNAL_VERSION 1
#define JOURNAL_MAX_SIZE (1024u * 1024u)

struct Journal {
        char *dir;
        char *state_path;
        int lock_fd;
        cJSON *state;
};

void journal_free(Journal *j) {
        if (!j)
                return;
        if (j->lock_fd >= 0)
                (void) close(j->lock_fd); /* releases the flock */
        cJSON_Delete(j->state);
        free(j->dir);
        free(j->state_path);
        free(j);
}

static int load_state(const char *path, cJSON **ret) {
        _cleanup_free_ char *text = NULL;
        int r = read_full_file(path, JOURNAL_MAX_SIZE, &text, NULL);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        cJSON *state = cJSON_Parse(text);
        if (!cJSON_IsObject(state)) {
                cJSON_Delete(state);
                return -EBADMSG;
        }
        *ret = state;
        return 0;
}

int journal_open(const char *state_dir, bool read_only, Journal **ret) {
        _cleanup_(journal_freep) Journal *j = calloc(1, sizeof(Journal));
        int r;

        if (!j)
                return -ENOMEM;
        j->lock_fd = -1;
        j->dir = strdup(state_dir);
        j->state_path = strdup_printf("%s/%s", state_dir, JOURNAL_STATE_FILE);
        _cleanup_free_ char *lock_path = strdup_printf("%s/%s", state_dir, JOURNAL_LOCK_FILE);
        if (!j->dir || !j->state_path || !lock_path)
                return -ENOMEM;

        if (!read_only) {
                if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
                        return negative_errno();
                j->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (j->lock_fd < 0)
                        return negative_errno();
                if (flock(j->lock_fd, LOCK_EX | LOCK_NB) < 0)
                        return errno == EWOULDBLOCK ? -EBUSY : negative_errno();
        }

        r = load_state(j->state_path, &j->state);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(j);
        return 0;
}

const char *journal_path(const Journal *j) {
        return j->state_path;
}

const cJSON *journal_state(const Journal *j) {
        return j->state;
}

static int save(Journal *j) {
        if (j->lock_fd < 0)
                return -EROFS;
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;

        if (gmtime_r(&now, &tm) && strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0) {
                cJSON *value = cJSON_CreateString(stamp);
                if (!value)
                        return -ENOMEM;
                if (cJSON_GetObjectItemCaseSensitive(j->state, "updated"))
                        cJSON_ReplaceItemInObjectCaseSensitive(j->state, "updated", value);
                else
                        cJSON_AddItemToObject(j->state, "updated", value);
        }

        _cleanup_free_ char *text = cJSON_Print(j->state);
        if (!text)
                return -ENOMEM;
        struct stat like = { .st_mode = 0600 };
        size_t size = strlen(text);

        return write_file_atomic(j->state_path, text, size, &like, true);
}

static int set_string(cJSON *o, const char *key, const char *value) {
        cJSON *item = value ? cJSON_CreateString(value) : cJSON_CreateNull();
        if (!item)
                return -ENOMEM;
        if (cJSON_GetObjectItemCaseSensitive(o, key))
                cJSON_ReplaceItemInObjectCaseSensitive(o, key, item);
        else
                cJSON_AddItemToObject(o, key, item);
        return 0;
}

int journal_begin(Journal *j, const JournalStart *s) {
        _cleanup_(cJSON_Deletep) cJSON *state = cJSON_CreateObject();
        if (!state)
                return -ENOMEM;

        if (!cJSON_AddNumberToObject(state, "version", JOURNAL_VERSION) ||
            !cJSON_AddStringToObject(state, "source", s->source) ||
            !cJSON_AddStringToObject(state, "target", s->target) ||
            !cJSON_AddStringToObject(state, "config", s->config_path) ||
            !cJSON_AddBoolToObject(state, "config_existed", s->config_existed) ||
            (s->backup_path && !cJSON_AddStringToObject(state, "backup", s->backup_path)) ||
            !cJSON_AddStringToObject(state, "driver", s->driver ? s->driver : "") ||
            !cJSON_AddNumberToObject(state, "images", (double) s->images) ||
            !cJSON_AddNumberToObject(state, "containers", (double) s->containers) ||
            (s->containerd_source &&
             (!cJSON_AddStringToObject(state, "containerd_source", s->containerd_source) ||
              !cJSON_AddStringToObject(state, "containerd_target", s->containerd_target ? s->containerd_target : "") ||
              !cJSON_AddStringToObject(state, "containerd_config",
                                       s->containerd_config_path ? s->containerd_config_path : "") ||
              !cJSON_AddBoolToObject(state, "containerd_config_existed", s->containerd_config_existed) ||
              (s->containerd_backup_path &&
               !cJSON_AddStringToObject(state, "containerd_backup", s->containerd_backup_path)))) ||
            !cJSON_AddNumberToObject(state, "pid", (double) getpid()) ||
            !cJSON_AddStringToObject(state, "stage", "check") ||
            !cJSON_AddArrayToObject(state, "completed") ||
            !cJSON_AddStringToObject(state, "outcome", "running"))
                return -ENOMEM;

        cJSON_Delete(j->state);
        j->state = TAKE_PTR(state);
        return save(j);
}

int journal_enter(Journal *j, const char *stage) {
        if (!j->state)
                return -ENOENT;
        int r = set_string(j->state, "stage", stage);
        if (r < 0)
                return r;
        r = set_string(j->state, "outcome", "running");
        if (r < 0)
                return r;
        return save(j);
}

bool journal_is_completed(const Journal *j, const char *stage) {
        const cJSON *item, *completed = cJSON_GetObjectItemCaseSensitive(j->state, "completed");
        cJSON_ArrayForEach(item, completed)
                if (cJSON_IsString(item) && streq(item->valuestring, stage))
                        return true;
        return false;
}

int journal_complete(Journal *j, const char *stage) {
        if (!j->state)
                return -ENOENT;
        if (journal_is_completed(j, stage))
                return 0;
        cJSON *completed = cJSON_GetObjectItemCaseSensitive(j->state, "completed");
        if (!cJSON_IsArray(completed))
                return -EBADMSG;
        cJSON *item = cJSON_CreateString(stage);
        if (!item)
                return -ENOMEM;
        cJSON_AddItemToArray(completed, item);
        return save(j);
}

int journal_finish(Journal *j, const char *outcome) {
        if (!j->state)
                return -ENOENT;
        int r = set_string(j->state, "outcome", outcome);
        if (r < 0)
                return r;
        return save(j);
}

const char *journal_get_string(const Journal *j, const char *key) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(j->state, key);
        return cJSON_IsString(item) ? item->valuestring : NULL;
}

bool journal_get_bool(const Journal *j, const char *key) {
        return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j->state, key));
}

long journal_get_long(const Journal *j, const char *key) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(j->state, key);
        return cJSON_IsNumber(item) ? (long) item->valuedouble : -1;
}

bool journal_is_unfinished(const Journal *j) {
        const char *outcome = journal_get_string(j, "outcome");
        return outcome && (streq(outcome, "running") || streq(outcome, "interrupted"));
}

int journal_set_string(Journal *j, const char *key, const char *value) {
        if (!j->state)
                return -ENOENT;
        int r = set_string(j->state, key, value);
        if (r < 0)
                return r;
        return save(j);
}

int journal_lock_is_held(const char *state_dir) {
        _cleanup_free_ char *lock_path = strdup_printf("%s/%s", state_dir, JOURNAL_LOCK_FILE);
        if (!lock_path)
                return -ENOMEM;
        _cleanup_close_ int fd = open(lock_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (flock(fd, LOCK_SH | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? 1 : negative_errno();
        return 0; /* closing the fd drops the shared lock again */
}

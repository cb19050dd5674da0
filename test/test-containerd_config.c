/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "containerd_config.h"
#include "tests.h"

static char tmp[] = "/tmp/test-containerd_config-XXXXXX";

static ContainerdConfig *parse_ok(const char *text) {
        ContainerdConfig *c = NULL;
        ContainerdConfigError err = {};
        int r = containerd_config_parse(text, strlen(text), &c, &err);
        if (r < 0)
                fprintf(stderr, "unexpected refusal, line %u: %s\n---\n%s---\n", err.line, err.message, text);
        ASSERT_OK(r);
        return c;
}

/* text with root set to /new/root must read exactly expected. */
static void edit_is(const char *text, const char *expected) {
        _cleanup_(containerd_config_freep) ContainerdConfig *c = parse_ok(text);
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        ASSERT_OK(containerd_config_with_root(c, "/new/root", &out, &size));
        ASSERT_EQ(size, strlen(expected));
        ASSERT_STREQ(out, expected);

        /* and the result reads back with the new root, once */
        _cleanup_(containerd_config_freep) ContainerdConfig *again = parse_ok(out);
        ASSERT_STREQ(again->root, "/new/root");
}

static void test_edits(void) {
        /* Debian's file: no root at the top, a table with a path under it */
        edit_is("version = 2\n\n[plugins]\n  [plugins.\"io.containerd.internal.v1.opt\"]\n"
                "    path = \"/var/lib/containerd/opt\"\n",
                "version = 2\nroot = \"/new/root\"\n\n[plugins]\n  [plugins.\"io.containerd.internal.v1.opt\"]\n"
                "    path = \"/var/lib/containerd/opt\"\n");
        /* root present: only its value changes, comment and spacing stay */
        edit_is("version = 2\nroot   =   \"/var/lib/containerd\"  # moved?\nstate = \"/run/containerd\"\n[grpc]\n",
                "version = 2\nroot   =   \"/new/root\"  # moved?\nstate = \"/run/containerd\"\n[grpc]\n");
        /* a literal string stays a literal string */
        edit_is("root = '/var/lib/containerd'\n", "root = '/new/root'\n");
        /* a quoted key is the same key */
        edit_is("\"root\" = \"/data/c\"\n", "\"root\" = \"/new/root\"\n");
        /* empty file, only comments, no table */
        edit_is("", "root = \"/new/root\"\n");
        edit_is("# nothing here\n", "# nothing here\nroot = \"/new/root\"\n");
        edit_is("# header comment\n[plugins]\n", "# header comment\nroot = \"/new/root\"\n[plugins]\n");
        /* no final newline */
        edit_is("version = 2", "version = 2\nroot = \"/new/root\"\n");
        edit_is("# c", "# c\nroot = \"/new/root\"\n");
        /* CRLF stays CRLF */
        edit_is("version = 2\r\n\r\n[plugins]\r\n", "version = 2\r\nroot = \"/new/root\"\r\n\r\n[plugins]\r\n");
        edit_is("root = \"/a\"\r\n", "root = \"/new/root\"\r\n");
        /* the keys containerd's own default file has at the top */
        edit_is("disabled_plugins = []\nimports = []\noom_score = 0\nplugin_dir = \"\"\nrequired_plugins = []\n"
                "root = \"/var/lib/containerd\"\nstate = \"/run/containerd\"\ntemp = \"\"\nversion = 2\n\n"
                "[cgroup]\n  path = \"\"\n",
                "disabled_plugins = []\nimports = []\noom_score = 0\nplugin_dir = \"\"\nrequired_plugins = []\n"
                "root = \"/new/root\"\nstate = \"/run/containerd\"\ntemp = \"\"\nversion = 2\n\n"
                "[cgroup]\n  path = \"\"\n");
        /* Docker's containerd.io package */
        edit_is("#   Copyright 2018-2022 Docker Inc.\n\ndisabled_plugins = [\"cri\"]\n\n"
                "#root = \"/var/lib/containerd\"\n",
                "#   Copyright 2018-2022 Docker Inc.\n\ndisabled_plugins = [\"cri\"]\nroot = \"/new/root\"\n\n"
                "#root = \"/var/lib/containerd\"\n");
        /* values of every simple kind, arrays and inline tables on one line */
        edit_is("a = 1\nb = -2.5e3\nc = true\nd = 1979-05-27T07:32:00Z\ne = [1, [2, 3], \"x]\", 'y]']\n"
                "f = { g = 1, h = \"}\" }\ni = \"esc\\\"aped # not a comment\"\n[t]\n",
                "a = 1\nb = -2.5e3\nc = true\nd = 1979-05-27T07:32:00Z\ne = [1, [2, 3], \"x]\", 'y]']\n"
                "f = { g = 1, h = \"}\" }\ni = \"esc\\\"aped # not a comment\"\nroot = \"/new/root\"\n[t]\n");
        /* root inside a table is not the top-level root */
        edit_is("[plugins.x]\nroot = \"/elsewhere\"\n", "root = \"/new/root\"\n[plugins.x]\nroot = \"/elsewhere\"\n");
        /* anything after the first table is never read: odd TOML there is fine */
        edit_is("version = 2\n[a]\nx = \"\"\"\nmulti\n\"\"\"\na.b = 1\n",
                "version = 2\nroot = \"/new/root\"\n[a]\nx = \"\"\"\nmulti\n\"\"\"\na.b = 1\n");
        /* indented key, tabs */
        edit_is("\t root\t=\t\"/x\"\t\n", "\t root\t=\t\"/new/root\"\t\n");
}

static void test_values(void) {
        _cleanup_(containerd_config_freep) ContainerdConfig *absent = parse_ok("version = 2\n");
        ASSERT_TRUE(absent->root == NULL);
        ASSERT_EQ(absent->root_line, 0);
        ASSERT_STREQ(containerd_config_effective_root(absent), "/var/lib/containerd");
        ASSERT_TRUE(absent->imports && !absent->imports[0]);

        _cleanup_(containerd_config_freep) ContainerdConfig *c =
                parse_ok("# x\nversion = 2\nroot = \"/srv/containerd\"\n"
                         "imports = [\"/etc/containerd/conf.d/*.toml\", 'b.toml']\n");
        ASSERT_STREQ(c->root, "/srv/containerd");
        ASSERT_EQ(c->root_line, 3);
        ASSERT_STREQ(containerd_config_effective_root(c), "/srv/containerd");
        ASSERT_STREQ(c->imports[0], "/etc/containerd/conf.d/*.toml");
        ASSERT_STREQ(c->imports[1], "b.toml");
        ASSERT_TRUE(c->imports[2] == NULL);

        /* compared with other paths in normalized form */
        _cleanup_(containerd_config_freep) ContainerdConfig *slash = parse_ok("root = '/srv//containerd/'\n");
        _cleanup_free_ char *normalized = NULL;
        ASSERT_OK(containerd_config_normalized_root(slash, &normalized));
        ASSERT_STREQ(normalized, "/srv/containerd");
        _cleanup_(containerd_config_freep) ContainerdConfig *dotdot = parse_ok("root = \"/srv/../x\"\n");
        char *untouched = NULL;
        ASSERT_EQ(containerd_config_normalized_root(dotdot, &untouched), -EINVAL);
        ASSERT_TRUE(untouched == NULL);

        /* paths below the old root elsewhere in the file */
        _cleanup_(containerd_config_freep) ContainerdConfig *opt = parse_ok(
                "root = \"/var/lib/containerd\"\n[plugins]\n  x = \"/var/lib/containerd-old\"\n"
                "  path = \"/var/lib/containerd/opt\"\n");
        ASSERT_EQ(containerd_config_line_naming(opt, "/var/lib/containerd"), 4);
        ASSERT_EQ(containerd_config_line_naming(opt, "/srv"), 0);
        /* containerd.io's stock file comments its defaults out */
        _cleanup_(containerd_config_freep) ContainerdConfig *commented = parse_ok(
                "#root = \"/var/lib/containerd\"\nversion = 2 # \"/var/lib/containerd/x\"\n[plugins]\n"
                "  # root_path = \"/var/lib/containerd/snap\"\n  a = \"#\" # '/var/lib/containerd/y'\n");
        ASSERT_EQ(containerd_config_line_naming(commented, "/var/lib/containerd"), 0);
        _cleanup_(containerd_config_freep) ContainerdConfig *quoted = parse_ok(
                "version = 2\n[plugins]\n  a = \"x\\\"#\" # c\n  b = 'y#' ; root_path = \"/var/lib/containerd/s\"\n");
        ASSERT_EQ(containerd_config_line_naming(quoted, "/var/lib/containerd"), 4);

        ASSERT_TRUE(containerd_config_root_is_plain("/srv/containerd"));
        ASSERT_FALSE(containerd_config_root_is_plain("srv"));
        ASSERT_FALSE(containerd_config_root_is_plain("/a\"b"));
        ASSERT_FALSE(containerd_config_root_is_plain("/a'b"));
        ASSERT_FALSE(containerd_config_root_is_plain("/a\\b"));
        ASSERT_FALSE(containerd_config_root_is_plain("/a\nb"));
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        ASSERT_EQ(containerd_config_with_root(c, "/bad\"root", &out, &size), -EINVAL);
        ASSERT_TRUE(out == NULL);
}

/* Each must be refused with this line. */
static const struct {
        const char *text;
        unsigned line;
} nasty[] = {
        { "root = \"/a\"\nroot = \"/b\"\n", 2 },
        { "version = 2\nRoot = \"/a\"\n", 2 },
        { "'ROOT' = \"/a\"\n", 1 },
        { "version = 2\nImports = [\"a.toml\"]\n", 2 },
        { "version = 2\n\"root\" = \"/a\"\nroot = '/b'\n", 3 },
        { "root = \"\"\"/a\"\"\"\n", 1 },
        { "version = 2\nx = '''\nroot = \"/a\"\n'''\n", 2 },
        { "root = [\"/a\"]\n", 1 },
        { "root = \"/a\\u0041\"\n", 1 },
        { "root = \"/a\\\\b\"\n", 1 },
        { "root = 5\n", 1 },
        { "root = \"relative\"\n", 1 },
        { "root = \"/a\" junk\n", 1 },
        { "root = \"/a\nstate = \"/b\"\n", 1 },
        { "version = 2\ndisabled_plugins = [\n  \"cri\",\n]\n", 2 },
        { "a = { b = 1,\n c = 2 }\n", 1 },
        { "plugins.cri.x = 1\n", 1 },
        { "a . b = 1\n", 1 },
        { "\"a\".b = 1\n", 1 },
        { "version\n", 1 },
        { "= 2\n", 1 },
        { "version = \n", 1 },
        { "x = [1, 2 # comment\n]\n", 1 },
        { "x = ]\n", 1 },
        { "x = \"tab\tok\" \x01\n", 1 },
        { "x = \"ctl\x01\"\n", 1 },
        { "\xef\xbb\xbfversion = 2\n", 1 },
        { "version = 2\r[plugins]\n", 1 },
        { "a = 1\nb = 2\nc = 3\r\n d = 4\rx\n", 4 },
        { "x = 1979-05-27 07:32:00Z\n", 1 },
        { "\"ro\\u006ft\" = \"/a\"\n", 1 },
        { "imports = \"a.toml\"\n", 1 },
        { "imports = [1]\n", 1 },
        { "imports = [\"a\\\\b\"]\n", 1 },
        { "x = \"unterminated\n", 1 },
        { "x = 'unterminated\n", 1 },
        { "x = \"ends with backslash\\\n\"\n", 1 },
        { "ключ = 1\n", 1 },
};

static void test_refusals(void) {
        for (size_t i = 0; i < ELEMENTSOF(nasty); i++) {
                ContainerdConfig *c = NULL;
                ContainerdConfigError err = {};
                int r = containerd_config_parse(nasty[i].text, strlen(nasty[i].text), &c, &err);
                if (r != -EBADMSG || err.line != nasty[i].line) {
                        fprintf(stderr, "case %zu: r=%d line %u (want %u): %s\n", i, r, err.line, nasty[i].line,
                                err.message);
                        abort();
                }
                ASSERT_TRUE(c == NULL);
                ASSERT_TRUE(err.message[0] != 0);
        }

        /* a NUL byte anywhere */
        static const char with_nul[] = "version = 2\n\0root = \"/a\"\n";
        ContainerdConfig *c = NULL;
        ContainerdConfigError err = {};
        ASSERT_EQ(containerd_config_parse(with_nul, sizeof with_nul - 1, &c, &err), -EBADMSG);
        ASSERT_TRUE(c == NULL);
}

/* Every prefix and every single-byte change of a valid file either parses
 * (and then edits into something that parses with the new root) or is
 * refused: never a crash, never a second root. */
static void test_mutations(void) {
        static const char base[] = "# c\nversion = 2\nroot = \"/var/lib/containerd\" # x\n"
                                   "imports = ['a.toml', \"b\"]\nf = { a = [1, 2] }\n[plugins]\n x = 1\n";
        static const char bytes[] = { 0, '\n', '\r', '"', '\'', '[', ']', '{', '}', '#', '=', '.', '\\', ' ', 'a' };
        char buf[sizeof base];

        for (size_t cut = 0; cut <= sizeof base - 1; cut++) {
                ContainerdConfig *c = NULL;
                if (containerd_config_parse(base, cut, &c, NULL) >= 0)
                        containerd_config_free(c);
        }
        for (size_t at = 0; at < sizeof base - 1; at++)
                for (size_t b = 0; b < ELEMENTSOF(bytes); b++) {
                        memcpy(buf, base, sizeof base);
                        buf[at] = bytes[b];
                        _cleanup_(containerd_config_freep) ContainerdConfig *c = NULL;
                        if (containerd_config_parse(buf, sizeof base - 1, &c, NULL) < 0)
                                continue;
                        _cleanup_free_ char *out = NULL;
                        size_t size = 0;
                        ASSERT_OK(containerd_config_with_root(c, "/new", &out, &size));
                        _cleanup_(containerd_config_freep) ContainerdConfig *again = NULL;
                        ContainerdConfigError err = {};
                        int r = containerd_config_parse(out, size, &again, &err);
                        if (r < 0)
                                fprintf(stderr, "edit of mutation at %zu with 0x%02x unreadable: line %u: %s\n",
                                        at, (unsigned char) bytes[b], err.line, err.message);
                        ASSERT_OK(r);
                        ASSERT_STREQ(again->root, "/new");
                }
}

static void write_text(const char *path, const char *text, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(write_all(fd, text, strlen(text)));
        ASSERT_OK(fchmod(fd, mode));
        close(fd);
}

static void test_files(const char *dir) {
        _cleanup_free_ char *path = strdup_printf("%s/config.toml", dir);
        _cleanup_free_ char *backup = strdup_printf("%s/config.toml.bak", dir);
        _cleanup_free_ char *missing = strdup_printf("%s/sub/none.toml", dir);
        ContainerdConfigError err = {};

        /* missing: the defaults, and the edit creates the file 0644 */
        _cleanup_(containerd_config_freep) ContainerdConfig *none = NULL;
        ASSERT_OK(containerd_config_load(missing, &none, &err));
        ASSERT_FALSE(none->existed);
        ASSERT_STREQ(containerd_config_effective_root(none), "/var/lib/containerd");
        ASSERT_EQ(containerd_config_write_backup(none, backup), -ENOENT);
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        ASSERT_OK(containerd_config_with_root(none, "/srv/c", &text, &size));
        ASSERT_STREQ(text, "root = \"/srv/c\"\n");
        ASSERT_OK(containerd_config_write(none, missing, text, size));
        struct stat st;
        ASSERT_OK(stat(missing, &st));
        ASSERT_EQ(st.st_mode & 07777, 0644);

        /* existing: mode kept, backup byte for byte, never over another file */
        static const char original[] = "version = 2\n[plugins]\n";
        write_text(path, original, 0600);
        _cleanup_(containerd_config_freep) ContainerdConfig *c = NULL;
        ASSERT_OK(containerd_config_load(path, &c, &err));
        ASSERT_TRUE(c->existed);
        ASSERT_OK(containerd_config_write_backup(c, backup));
        ASSERT_OK(containerd_config_write_backup(c, backup)); /* same bytes: fine */
        free(text);
        text = NULL;
        ASSERT_OK(containerd_config_with_root(c, "/srv/c", &text, &size));
        ASSERT_OK(containerd_config_write(c, path, text, size));
        ASSERT_OK(stat(path, &st));
        ASSERT_EQ(st.st_mode & 07777, 0600);
        _cleanup_free_ char *back = NULL, *now = NULL;
        ASSERT_OK(read_full_file(backup, 4096, &back, &size));
        ASSERT_STREQ(back, original);
        ASSERT_OK(read_full_file(path, 4096, &now, &size));
        ASSERT_STREQ(now, "version = 2\nroot = \"/srv/c\"\n[plugins]\n");
        _cleanup_(containerd_config_freep) ContainerdConfig *changed = NULL;
        ASSERT_OK(containerd_config_load(path, &changed, &err));
        ASSERT_EQ(containerd_config_write_backup(changed, backup), -EEXIST);

        /* a refused file reports its line */
        write_text(path, "version = 2\nroot = \"/a\"\nroot = \"/b\"\n", 0644);
        _cleanup_(containerd_config_freep) ContainerdConfig *twice = NULL;
        ASSERT_EQ(containerd_config_load(path, &twice, &err), -EBADMSG);
        ASSERT_EQ(err.line, 3);

        /* imports: relative to the file's directory, globbed; one sets root */
        _cleanup_free_ char *conf_d = strdup_printf("%s/conf.d", dir);
        ASSERT_OK(mkdir(conf_d, 0755) < 0 ? -errno : 0);
        _cleanup_free_ char *a = strdup_printf("%s/conf.d/a.toml", dir);
        _cleanup_free_ char *b = strdup_printf("%s/conf.d/b.toml", dir);
        write_text(a, "version = 2\n[plugins.x]\nroot = \"/not/top\"\n", 0644);
        write_text(path, "version = 2\nimports = [\"conf.d/*.toml\"]\n", 0644);
        _cleanup_(containerd_config_freep) ContainerdConfig *imp = NULL;
        ASSERT_OK(containerd_config_load(path, &imp, &err));
        _cleanup_free_ char *file = NULL;
        unsigned line = 0;
        ASSERT_EQ(containerd_config_check_imports(imp, path, &file, &line, &err), 0);
        write_text(b, "# b\nroot = \"/elsewhere\"\n", 0644);
        ASSERT_EQ(containerd_config_check_imports(imp, path, &file, &line, &err), 1);
        ASSERT_STREQ(file, b);
        ASSERT_EQ(line, 2);
        free(file);
        file = NULL;
        write_text(b, "x = [\n]\n", 0644);
        ASSERT_EQ(containerd_config_check_imports(imp, path, &file, &line, &err), 1);
        ASSERT_STREQ(file, b);
        ASSERT_EQ(err.line, 1);

        (void) unlink(a);
        (void) unlink(b);
        (void) rmdir(conf_d);
        (void) unlink(path);
        (void) unlink(backup);
        (void) unlink(missing);
        _cleanup_free_ char *sub = strdup_printf("%s/sub", dir);
        (void) rmdir(sub);
}

static void test_flags(void) {
        char *plain[] = { "/usr/bin/containerd", NULL };
        char *config_long[] = { "/usr/bin/containerd", "--config", "/etc/c.toml", NULL };
        char *config_eq[] = { "/usr/bin/containerd", "-config=/etc/d.toml", NULL };
        char *config_short[] = { "/usr/bin/containerd", "--log-level", "debug", "-c", "/etc/e.toml", NULL };
        char *root_eq[] = { "/usr/bin/containerd", "--root=/srv/c", NULL };
        char *root_next[] = { "/usr/bin/containerd", "-root", "/srv/c", NULL };
        char *not_root[] = { "/usr/bin/containerd", "--rootless", "--state", "/run/x", "--", "--root", "/y", NULL };
        _cleanup_free_ char *path = NULL, *flag = NULL;

        ASSERT_EQ(containerd_find_config_flag(plain, &path), 0);
        ASSERT_EQ(containerd_find_root_flag(plain, &flag), 0);
        ASSERT_EQ(containerd_find_config_flag(config_long, &path), 1);
        ASSERT_STREQ(path, "/etc/c.toml");
        free(TAKE_PTR(path));
        ASSERT_EQ(containerd_find_config_flag(config_eq, &path), 1);
        ASSERT_STREQ(path, "/etc/d.toml");
        free(TAKE_PTR(path));
        ASSERT_EQ(containerd_find_config_flag(config_short, &path), 1);
        ASSERT_STREQ(path, "/etc/e.toml");
        ASSERT_EQ(containerd_find_root_flag(root_eq, &flag), 1);
        ASSERT_STREQ(flag, "--root=/srv/c");
        free(TAKE_PTR(flag));
        ASSERT_EQ(containerd_find_root_flag(root_next, &flag), 1);
        ASSERT_STREQ(flag, "-root /srv/c");
        free(TAKE_PTR(flag));
        ASSERT_EQ(containerd_find_root_flag(not_root, &flag), 0);
        ASSERT_TRUE(flag == NULL);
}

int main(void) {
        ASSERT_TRUE(mkdtemp(tmp) != NULL);
        test_edits();
        test_values();
        test_refusals();
        test_mutations();
        test_files(tmp);
        test_flags();
        ASSERT_OK(rmdir(tmp) < 0 ? -errno : 0);
        return 0;
}

/*
 * make install into a temporary prefix, then pkg-config finds the library and a program
 * built only from the installed headers and libraries runs.
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mtproto/common.h>

#include "testutil.h"

static int sh(const char *cmd)
{
    int rc = system(cmd);
    return rc == -1 ? -1 : (WIFEXITED(rc) ? WEXITSTATUS(rc) : 128);
}

int main(int argc, char **argv)
{
    (void)argc;
    char build[512];
    snprintf(build, sizeof build, "%s", argv[0]);   /* <BUILD>/tests/test_install */
    char *s = strrchr(build, '/');
    if (!s)
        tap_bail("run me by path");
    *s = 0;
    s = strrchr(build, '/');
    if (!s)
        tap_bail("unexpected path %s", argv[0]);
    *s = 0;
    char dir[] = "/tmp/mtp-install-XXXXXX";
    if (!mkdtemp(dir))
        tap_bail("mkdtemp");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "make -s --no-print-directory install BUILD=%s PREFIX=%s/usr DESTDIR= >%s/log 2>&1",
             build, dir, dir);
    OK(sh(cmd) == 0, "make install PREFIX=%s/usr", dir);
    snprintf(cmd, sizeof cmd, "test -f %s/usr/include/mtproto/tl_schema.h -a -f %s/usr/lib/libmtproto.a -a "
             "-f %s/usr/lib/libmtproto.so.0 -a -x %s/usr/bin/mtproto-tl -a -x %s/usr/bin/mtproto-harness -a "
             "-x %s/usr/bin/mtproto-cli", dir, dir, dir, dir, dir, dir);
    OK(sh(cmd) == 0, "headers, both libraries and the tools are installed");
    snprintf(cmd, sizeof cmd, "PKG_CONFIG_PATH=%s/usr/lib/pkgconfig pkg-config --cflags --libs libmtproto "
             "| grep -q -- '-lmtproto'", dir);
    OK(sh(cmd) == 0, "pkg-config --cflags --libs libmtproto finds it");
    snprintf(cmd, sizeof cmd, "test -f %s/usr/lib/libmtproto-harness.a -a -f %s/usr/lib/libmtproto-harness.so.%s "
             "-a -f %s/usr/lib/libmtproto.so.%s && PKG_CONFIG_PATH=%s/usr/lib/pkgconfig pkg-config --libs "
             "libmtproto-harness | grep -q -- '-lmtproto-harness'", dir, dir, MTP_VERSION_STRING, dir,
             MTP_VERSION_STRING, dir);
    OK(sh(cmd) == 0, "the harness library (libmtproto-harness) and its pkg-config file are installed");
    snprintf(cmd, sizeof cmd,
             "printf '#include <mtproto/tl.h>\\n#include <mtproto/tl_schema.h>\\n#include <stdio.h>\\n"
             "int main(void){mtp_arena_t *a=mtp_arena_new(0);mtp_buf_t b;mtp_buf_init(&b);"
             "mtp_help_getNearestDc_t *q=MTP_NEW(a,help_getNearestDc);"
             "int rc=mtp_tl_encode(&q->_,&b);printf(\"%%%%d %%%%zu\\\\n\",rc,b.len);"
             "mtp_buf_free(&b);mtp_arena_free(a);return rc;}\\n' > %s/app.c && "
             "cc -std=c11 %s %s/app.c -o %s/app $(PKG_CONFIG_PATH=%s/usr/lib/pkgconfig pkg-config --cflags "
             "--libs --static libmtproto) >>%s/log 2>&1 && LD_LIBRARY_PATH=%s/usr/lib %s/app | grep -q '^0 4$'",
             dir, strstr(build, "asan") ? "-fsanitize=address,undefined" : "", dir, dir, dir, dir, dir, dir);
    if (!OK(sh(cmd) == 0, "a program built against the installed copy runs")) {
        snprintf(cmd, sizeof cmd, "sed 's/^/# /' %s/log; cat %s/app.c | sed 's/^/# /'", dir, dir);
        sh(cmd);
    }
    snprintf(cmd, sizeof cmd, "%s/usr/bin/mtproto-tl info help.getConfig | grep -q c4f9186b", dir);
    OK(sh(cmd) == 0, "the installed mtproto-tl runs");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    sh(cmd);
    return tap_done();
}

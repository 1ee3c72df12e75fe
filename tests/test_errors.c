/*
 * mtp_strerror: every MTP_E* code from MTP_OK down to (not including) the MTP_ELAST sentinel
 * has its own text, and anything outside that range is "unknown error".
 */
#include <mtproto/common.h>

#include "testutil.h"

int main(void)
{
    const int n = -MTP_ELAST;   /* MTP_OK .. MTP_ELAST + 1 */
    OK(n > 1, "MTP_ELAST is below MTP_OK (%d codes)", n);

    bool named = true, distinct = true, nonempty = true;
    for (int e = MTP_OK; e > MTP_ELAST; e--) {
        const char *t = mtp_strerror(e);
        if (!t || !*t) {
            nonempty = false;
            tap_diag("code %d: empty text", e);
            continue;
        }
        if (strcmp(t, "unknown error") == 0) {
            named = false;
            tap_diag("code %d has no text of its own", e);
        }
        for (int f = MTP_OK; f > e; f--)
            if (mtp_strerror(f) && strcmp(mtp_strerror(f), t) == 0) {
                distinct = false;
                tap_diag("codes %d and %d share the text \"%s\"", f, e, t);
            }
    }
    OK(nonempty, "every code has a non-empty text");
    OK(named, "every code from MTP_OK to MTP_ELAST + 1 is named");
    OK(distinct, "no two codes share a text");

    OK(strcmp(mtp_strerror(MTP_ELAST), "unknown error") == 0, "MTP_ELAST itself: unknown error");
    OK(strcmp(mtp_strerror(1), "unknown error") == 0, "a positive value: unknown error");
    OK(strcmp(mtp_strerror(-1000), "unknown error") == 0, "-1000: unknown error");
    OK(strcmp(mtp_strerror(MTP_EFULL), mtp_strerror(MTP_ENOMEM)) != 0 &&
           strcmp(mtp_strerror(MTP_EDISABLED), mtp_strerror(MTP_ENOMEM)) != 0,
       "table full and disabled are not out of memory");
    return tap_done();
}

build-clang/obj/src/net/backoff.o: src/net/backoff.c \
  src/net/net_internal.h include/mtproto/net.h include/mtproto/common.h \
  include/mtproto/crypto.h

src/net/net_internal.h:

include/mtproto/net.h:

include/mtproto/common.h:

include/mtproto/crypto.h:

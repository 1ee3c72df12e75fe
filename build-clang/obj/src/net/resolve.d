build-clang/obj/src/net/resolve.o: src/net/resolve.c \
  src/net/net_internal.h include/mtproto/net.h include/mtproto/common.h

src/net/net_internal.h:

include/mtproto/net.h:

include/mtproto/common.h:

build-clang/obj/src/net/sock.o: src/net/sock.c src/net/net_internal.h \
  include/mtproto/net.h include/mtproto/common.h

src/net/net_internal.h:

include/mtproto/net.h:

include/mtproto/common.h:

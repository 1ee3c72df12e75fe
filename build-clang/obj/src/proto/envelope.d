build-clang/obj/src/proto/envelope.o: src/proto/envelope.c \
  include/mtproto/envelope.h include/mtproto/common.h \
  include/mtproto/crypto.h src/util/util.h

include/mtproto/envelope.h:

include/mtproto/common.h:

include/mtproto/crypto.h:

src/util/util.h:

build-clang/obj/src/crypto/pq.o: src/crypto/pq.c \
  src/crypto/crypto_internal.h include/mtproto/crypto.h \
  include/mtproto/common.h src/util/util.h

src/crypto/crypto_internal.h:

include/mtproto/crypto.h:

include/mtproto/common.h:

src/util/util.h:

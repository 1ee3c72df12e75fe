build-clang/obj/src/crypto/aesni.o: src/crypto/aesni.c \
  src/crypto/crypto_internal.h include/mtproto/crypto.h \
  include/mtproto/common.h src/util/util.h src/crypto/sha256_ni.h

src/crypto/crypto_internal.h:

include/mtproto/crypto.h:

include/mtproto/common.h:

src/util/util.h:

src/crypto/sha256_ni.h:

/*
 * Status codes: the table of English phrases behind qr_strerror().
 */
#include "storage/status.h"

const char *qr_strerror(int code)
{
    switch (code) {
    case QR_OK:
        return "success";
    case QR_ENOMEM:
        return "out of memory";
    case QR_EIO:
        return "input/output error";
    case QR_ECORRUPT:
        return "corrupt data";
    case QR_EVERSION:
        return "unsupported format version";
    case QR_ENOTFOUND:
        return "not found";
    case QR_EINVAL:
        return "invalid argument";
    case QR_ESYNTAX:
        return "syntax error";
    case QR_ELOCKED:
        return "locked by another writer";
    case QR_ENOSPC:
        return "no space left on device";
    case QR_ETOOBIG:
        return "too large";
    }
    return "unknown error";
}

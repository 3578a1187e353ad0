/*
 * agentlytics.fingerprints._native — the per-line hot loop of accepted-line fingerprinting.
 *
 * scan_hunks(diff, start, end, fingerprint) takes one file section's hunk part of an all-ASCII
 * diff, diff[start:end] (from the section's first "@@ " line up to the next "diff --git "
 * line), and returns (added, deleted, line_hashes) with exactly the rules of the pure-Python
 * reference in diff.py:
 *
 *   - a line runs to the next '\n' (Rust str::lines; a '\r' left before it is whitespace);
 *   - a line starting with '+' is added, one starting with '-' is deleted, others are ignored;
 *   - an added line's text after the '+' is whitespace-collapsed like Rust
 *     split_whitespace().join(" "), which on ASCII splits on "\t\n\v\f\r " only (not on
 *     \x1c-\x1f, unlike Python's str.split);
 *   - it is effective when the collapsed text is longer than 3 bytes and has a character in
 *     [A-Za-z0-9_] (Python's isalnum() or '_', restricted to ASCII);
 *   - its hash is the lowercase hex SHA-1 of "file-line-v1\0line\0" + text.
 *
 * Only ASCII is handled here (the str's ASCII flag is checked): diff.py keeps non-ASCII diffs
 * on the pure-Python path, where Unicode whitespace and alphanumerics apply.
 *
 * SHA-1 is implemented below (the classic public-domain formulation) rather than taken from
 * hashlib or OpenSSL: the cost that matters is hashlib's per-call object overhead (a new
 * hash object, an EVP context copy, a hexdigest string) for ~40-byte inputs, there is no batch
 * API, and no OpenSSL header is guaranteed on a machine that builds this. SHA-1 here is a
 * fingerprint format fixed by the spec, not a security measure.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- SHA-1 ------------------------------------------------------------------------------ */

#define ROL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define W(i) (w[(i) & 15] = ROL(w[((i) + 13) & 15] ^ w[((i) + 8) & 15] ^ \
                                w[((i) + 2) & 15] ^ w[(i) & 15], 1))
#define R0(a, b, c, d, e, i) e += (((b) & ((c) ^ (d))) ^ (d)) + w[i] + 0x5A827999u + ROL(a, 5); \
                             b = ROL(b, 30);
#define R1(a, b, c, d, e, i) e += (((b) & ((c) ^ (d))) ^ (d)) + W(i) + 0x5A827999u + ROL(a, 5); \
                             b = ROL(b, 30);
#define R2(a, b, c, d, e, i) e += ((b) ^ (c) ^ (d)) + W(i) + 0x6ED9EBA1u + ROL(a, 5); \
                             b = ROL(b, 30);
#define R3(a, b, c, d, e, i) e += ((((b) | (c)) & (d)) | ((b) & (c))) + W(i) + 0x8F1BBCDCu + \
                                  ROL(a, 5); b = ROL(b, 30);
#define R4(a, b, c, d, e, i) e += ((b) ^ (c) ^ (d)) + W(i) + 0xCA62C1D6u + ROL(a, 5); \
                             b = ROL(b, 30);
/* Five rounds rotate the roles of the five working variables back to where they started. */
#define FIVE(R, i) R(a, b, c, d, e, i) R(e, a, b, c, d, i + 1) R(d, e, a, b, c, i + 2) \
                   R(c, d, e, a, b, i + 3) R(b, c, d, e, a, i + 4)

static void sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[16];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 16; i++, p += 4)
        w[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    FIVE(R0, 0) FIVE(R0, 5) FIVE(R0, 10)
    R0(a, b, c, d, e, 15) R1(e, a, b, c, d, 16) R1(d, e, a, b, c, 17) R1(c, d, e, a, b, 18)
    R1(b, c, d, e, a, 19)
    FIVE(R2, 20) FIVE(R2, 25) FIVE(R2, 30) FIVE(R2, 35)
    FIVE(R3, 40) FIVE(R3, 45) FIVE(R3, 50) FIVE(R3, 55)
    FIVE(R4, 60) FIVE(R4, 65) FIVE(R4, 70) FIVE(R4, 75)
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

/* SHA-1 of buf[0:len]. The buffer must have room for the padding: at least len + 72 bytes. */
static void sha1_padded(unsigned char *buf, size_t len, uint32_t h[5])
{
    size_t total = (len + 8) / 64 * 64 + 64;
    uint64_t bits = (uint64_t)len * 8;
    buf[len] = 0x80;
    memset(buf + len + 1, 0, total - 8 - len - 1);
    for (int i = 0; i < 8; i++)
        buf[total - 1 - i] = (unsigned char)(bits >> (8 * i));
    h[0] = 0x67452301u; h[1] = 0xEFCDAB89u; h[2] = 0x98BADCFEu; h[3] = 0x10325476u;
    h[4] = 0xC3D2E1F0u;
    for (size_t off = 0; off < total; off += 64)
        sha1_block(h, buf + off);
}

/* ---- the hunk scanner ------------------------------------------------------------------- */

static const char LINE_PREFIX[] = "file-line-v1\0line\0";
#define PREFIX_LEN (sizeof(LINE_PREFIX) - 1) /* 18 bytes; the literal adds one more NUL */
#define PADDING 72                           /* 0x80, zeros, 64-bit length: < 72 bytes */
#define STACK_BUFFER 4096                    /* holds lines of up to ~4000 bytes */

enum { OTHER = 0, WORD = 1, SPACE = 2 };
static unsigned char byte_class[256];
static char hex_pairs[512];

static PyObject *hex_string(const uint32_t h[5])
{
    PyObject *s = PyUnicode_New(40, 127);
    if (s == NULL)
        return NULL;
    char *out = (char *)PyUnicode_1BYTE_DATA(s);
    for (int i = 0; i < 5; i++) {
        for (int k = 3; k >= 0; k--) {
            memcpy(out, hex_pairs + 2 * ((h[i] >> (8 * k)) & 0xFF), 2);
            out += 2;
        }
    }
    return s;
}

PyDoc_STRVAR(scan_hunks_doc,
"scan_hunks(diff, start, end, fingerprint, /) -> (added, deleted, line_hashes)\n\n"
"Count the added and deleted lines of diff[start:end], the hunk part of one file section of\n"
"an all-ASCII diff, and (when fingerprint is true) hash its effective added lines. Raises\n"
"ValueError for a non-ASCII diff or bounds outside it.");

static PyObject *scan_hunks(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "scan_hunks() takes 4 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *diff = args[0];
    if (!PyUnicode_Check(diff)) {
        PyErr_SetString(PyExc_TypeError, "scan_hunks(): diff must be str");
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(diff) < 0)
        return NULL;
#endif
    if (!PyUnicode_IS_ASCII(diff)) {
        PyErr_SetString(PyExc_ValueError, "scan_hunks(): diff is not ASCII");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t end = PyLong_AsSsize_t(args[2]);
    if (end == -1 && PyErr_Occurred())
        return NULL;
    if (start < 0 || start > end || end > PyUnicode_GET_LENGTH(diff)) {
        PyErr_SetString(PyExc_ValueError, "scan_hunks(): need 0 <= start <= end <= len(diff)");
        return NULL;
    }
    int fingerprint = PyObject_IsTrue(args[3]);
    if (fingerprint < 0)
        return NULL;

    PyObject *hashes = PyList_New(0);
    if (hashes == NULL)
        return NULL;
    unsigned char stack_buf[STACK_BUFFER];
    unsigned char *heap_buf = NULL;
    size_t heap_cap = 0;
    memcpy(stack_buf, LINE_PREFIX, PREFIX_LEN);

    const unsigned char *data = PyUnicode_1BYTE_DATA(diff);
    const unsigned char *p = data + start, *stop = data + end;
    Py_ssize_t added = 0, deleted = 0;
    while (p < stop) {
        const unsigned char *eol = memchr(p, '\n', (size_t)(stop - p));
        if (eol == NULL)
            eol = stop;
        if (*p == '-') {
            deleted++;
        }
        else if (*p == '+') {
            added++;
            if (fingerprint) {
                size_t raw = (size_t)(eol - p - 1);
                unsigned char *buf = stack_buf;
                if (raw + PREFIX_LEN + PADDING > sizeof(stack_buf)) {
                    if (raw + PREFIX_LEN + PADDING > heap_cap) {
                        free(heap_buf);
                        heap_cap = raw + PREFIX_LEN + PADDING;
                        heap_buf = malloc(heap_cap);
                        if (heap_buf == NULL) {
                            PyErr_NoMemory();
                            goto fail;
                        }
                        memcpy(heap_buf, LINE_PREFIX, PREFIX_LEN);
                    }
                    buf = heap_buf;
                }
                /* split_whitespace().join(" "), written straight after the prefix. */
                unsigned char *const text = buf + PREFIX_LEN;
                unsigned char *o = text;
                int word = 0, gap = 0;
                for (const unsigned char *q = p + 1; q < eol; q++) {
                    unsigned char cls = byte_class[*q];
                    if (cls == SPACE) {
                        gap = o != text;
                        continue;
                    }
                    if (gap) {
                        *o++ = ' ';
                        gap = 0;
                    }
                    *o++ = *q;
                    word |= cls;
                }
                if (o - text > 3 && word) {
                    uint32_t h[5];
                    sha1_padded(buf, (size_t)(o - buf), h);
                    PyObject *s = hex_string(h);
                    if (s == NULL)
                        goto fail;
                    int rc = PyList_Append(hashes, s);
                    Py_DECREF(s);
                    if (rc < 0)
                        goto fail;
                }
            }
        }
        if (eol == stop)
            break;
        p = eol + 1;
    }
    free(heap_buf);
    return Py_BuildValue("nnN", added, deleted, hashes);

fail:
    free(heap_buf);
    Py_DECREF(hashes);
    return NULL;
}

static PyMethodDef methods[] = {
    {"scan_hunks", (PyCFunction)(void (*)(void))scan_hunks, METH_FASTCALL, scan_hunks_doc},
    {NULL, NULL, 0, NULL},
};

static int exec_module(PyObject *module)
{
    (void)module;
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 256; i++) {
        hex_pairs[2 * i] = digits[i >> 4];
        hex_pairs[2 * i + 1] = digits[i & 15];
        byte_class[i] = OTHER;
    }
    for (int c = '0'; c <= '9'; c++)
        byte_class[c] = WORD;
    for (int c = 'a'; c <= 'z'; c++)
        byte_class[c] = byte_class[c - 'a' + 'A'] = WORD;
    byte_class['_'] = WORD;
    const char *space = "\t\n\v\f\r ";
    for (const char *s = space; *s; s++)
        byte_class[(unsigned char)*s] = SPACE;
    return 0;
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, (void *)exec_module},
    {0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "agentlytics.fingerprints._native",
    .m_doc = "Native hunk scanner for all-ASCII diffs (see diff.py).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC PyInit__native(void)
{
    return PyModuleDef_Init(&moduledef);
}

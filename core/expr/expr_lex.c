/*
 * expr_lex.c — the tokenizer for Milvus filter expressions (Plan.g4 lexer).
 *
 * Accepted, as Milvus accepts them:
 *   - keywords in all-lower or ALL-UPPER form: and or not in like exists,
 *     `is null`, `is not null` (any blanks between the words); the boolean
 *     constants true/True/TRUE, false/False/FALSE; && || ! as symbols;
 *   - integers: decimal, octal (leading 0), hex (0x), binary (0b); floats:
 *     decimal with '.' or exponent, and hex floats (via strtod);
 *   - strings in "..." or '...' with C escapes (\n \t \" \' \\ \xHH \NNN
 *     \uXXXX \UXXXXXXXX); an unknown escape such as \% is kept verbatim (both
 *     bytes) so LIKE patterns can escape their wildcards; raw strings r"..."
 *     keep every backslash;
 *   - identifiers [A-Za-z_][A-Za-z0-9_]* and the dynamic field name $meta.
 * Mixed-case keywords (`And`) are identifiers, as in Milvus; the parser's
 * error then names them.
 *
 * Errors set lx->failed and fill lx->err with the 1-based column.
 */
#include "expr_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const tok_names[] = {
    [T_EOF] = "end of expression", [T_INT] = "integer", [T_FLOAT] = "float",
    [T_STRING] = "string", [T_TRUE] = "'true'", [T_FALSE] = "'false'",
    [T_IDENT] = "identifier", [T_LPAREN] = "'('", [T_RPAREN] = "')'",
    [T_LBRACKET] = "'['", [T_RBRACKET] = "']'", [T_LBRACE] = "'{'",
    [T_RBRACE] = "'}'", [T_COMMA] = "','", [T_LT] = "'<'", [T_LE] = "'<='",
    [T_GT] = "'>'", [T_GE] = "'>='", [T_EQ] = "'=='", [T_NE] = "'!='",
    [T_ADD] = "'+'", [T_SUB] = "'-'", [T_MUL] = "'*'", [T_DIV] = "'/'",
    [T_MOD] = "'%'", [T_POW] = "'**'", [T_SHL] = "'<<'", [T_SHR] = "'>>'",
    [T_BAND] = "'&'", [T_BOR] = "'|'", [T_BXOR] = "'^'", [T_BNOT] = "'~'",
    [T_AND] = "'and'", [T_OR] = "'or'", [T_NOT] = "'not'", [T_IN] = "'in'",
    [T_LIKE] = "'like'", [T_EXISTS] = "'exists'", [T_ISNULL] = "'is null'",
    [T_ISNOTNULL] = "'is not null'", [T_ERROR] = "invalid token",
};

const char *tok_name(tok_kind k) { return tok_names[k]; }

const char *expr_where(const char *text, size_t pos, char *buf, size_t cap) {
  size_t line = 1, col = 1;
  bool multiline = strchr(text, '\n') != NULL;
  for (size_t i = 0; i < pos && text[i]; i++) {
    if (text[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  if (multiline)
    snprintf(buf, cap, "line %zu, column %zu", line, col);
  else
    snprintf(buf, cap, "column %zu", col);
  return buf;
}

static void lex_fail(lexer *lx, size_t pos, const char *what) {
  char where[48];
  if (!lx->failed)
    cairn_error_set(lx->err, CAIRN_INVALID_ARGUMENT, "%s at %s", what,
                    expr_where(lx->text, pos, where, sizeof where));
  lx->failed = true;
  lx->cur.kind = T_ERROR;
}

void lex_init(lexer *lx, const char *text, cairn_error *err) {
  memset(lx, 0, sizeof *lx);
  lx->text = text;
  lx->len = strlen(text);
  lx->err = err;
  lex_next(lx);
}

void lex_destroy(lexer *lx) {
  free(lx->cur.s);
  lx->cur.s = NULL;
}

/* ---- keywords --------------------------------------------------------- */

/* Word w (length n) equals kw in all-lower or all-upper form. */
static bool kw_is(const char *w, size_t n, const char *kw) {
  size_t k = strlen(kw);
  if (n != k)
    return false;
  bool lower = true, upper = true;
  for (size_t i = 0; i < n; i++) {
    lower = lower && w[i] == kw[i];
    upper = upper && w[i] == (char)toupper((unsigned char)kw[i]);
  }
  return lower || upper;
}

static size_t skip_blanks(const char *t, size_t p) {
  while (t[p] == ' ' || t[p] == '\t' || t[p] == '\n' || t[p] == '\r')
    p++;
  return p;
}

static size_t word_len(const char *t, size_t p) {
  size_t q = p;
  while (isalnum((unsigned char)t[q]) || t[q] == '_')
    q++;
  return q - p;
}

/* After "is" at p (end of the word): "null" or "not null"? Sets kind and
 * returns the end offset, or 0 when it is not that phrase. */
static size_t lex_is_phrase(const char *t, size_t p, tok_kind *kind) {
  size_t q = skip_blanks(t, p);
  if (q == p)
    return 0;
  size_t n = word_len(t, q);
  if (kw_is(t + q, n, "null")) {
    *kind = T_ISNULL;
    return q + n;
  }
  if (!kw_is(t + q, n, "not"))
    return 0;
  size_t r = skip_blanks(t, q + n);
  if (r == q + n)
    return 0;
  size_t m = word_len(t, r);
  if (!kw_is(t + r, m, "null"))
    return 0;
  *kind = T_ISNOTNULL;
  return r + m;
}

static void lex_word(lexer *lx, size_t start) {
  const char *t = lx->text;
  size_t n = word_len(t, start);
  const char *w = t + start;
  token *tk = &lx->cur;
  static const struct { const char *kw; tok_kind k; } kws[] = {
      {"and", T_AND}, {"or", T_OR}, {"not", T_NOT}, {"in", T_IN},
      {"like", T_LIKE}, {"exists", T_EXISTS}, {"true", T_TRUE},
      {"false", T_FALSE},
  };
  tk->kind = T_IDENT;
  lx->pos = start + n;
  for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++)
    if (kw_is(w, n, kws[i].kw))
      tk->kind = kws[i].k;
  if ((n == 4 && memcmp(w, "True", 4) == 0))
    tk->kind = T_TRUE;
  if ((n == 5 && memcmp(w, "False", 5) == 0))
    tk->kind = T_FALSE;
  if (kw_is(w, n, "is")) {
    tok_kind k;
    size_t end = lex_is_phrase(t, start + n, &k);
    if (end) {
      tk->kind = k;
      lx->pos = end;
    }
  }
  tk->len = lx->pos - start;
}

/* ---- numbers ---------------------------------------------------------- */

static size_t skip_digits(const char *t, size_t p, bool hex) {
  while (hex ? isxdigit((unsigned char)t[p]) : isdigit((unsigned char)t[p]))
    p++;
  return p;
}

/* Exponent [eE|pP][+-]?digits at p, if there; returns the end. */
static size_t skip_exponent(const char *t, size_t p, bool hex, bool *is_float) {
  char e1 = hex ? 'p' : 'e', e2 = hex ? 'P' : 'E';
  if (t[p] != e1 && t[p] != e2)
    return p;
  size_t q = p + 1;
  if (t[q] == '+' || t[q] == '-')
    q++;
  if (!isdigit((unsigned char)t[q]))
    return p;
  *is_float = true;
  return skip_digits(t, q, false);
}

static void lex_number(lexer *lx, size_t start) {
  const char *t = lx->text;
  token *tk = &lx->cur;
  size_t p = start;
  bool is_float = false;
  bool hex = t[p] == '0' && (t[p + 1] == 'x' || t[p + 1] == 'X');
  bool bin = t[p] == '0' && (t[p + 1] == 'b' || t[p + 1] == 'B');
  if (bin) {
    p += 2;
    while (t[p] == '0' || t[p] == '1')
      p++;
  } else {
    p = skip_digits(t, p + (hex ? 2 : 0), hex);
    if (t[p] == '.') {
      is_float = true;
      p = skip_digits(t, p + 1, hex);
    }
    p = skip_exponent(t, p, hex, &is_float);
  }
  if (isalpha((unsigned char)t[p]) || t[p] == '_') {
    lex_fail(lx, start, "malformed number");
    return;
  }
  char buf[128];
  size_t n = p - start;
  if (n >= sizeof buf) {
    lex_fail(lx, start, "number too long");
    return;
  }
  memcpy(buf, t + start, n);
  buf[n] = '\0';
  char *end = NULL;
  errno = 0;
  if (is_float) {
    tk->kind = T_FLOAT;
    tk->f = strtod(buf, &end);
  } else {
    tk->kind = T_INT;
    int base = hex ? 16 : bin ? 2 : (buf[0] == '0' && n > 1) ? 8 : 10;
    unsigned long long v = strtoull(buf + (hex || bin ? 2 : 0), &end, base);
    if (errno == 0 && v > (unsigned long long)INT64_MAX)
      errno = ERANGE;
    tk->i = (int64_t)v;
  }
  if ((hex || bin) && n <= 2)
    end = buf; /* "0x" alone */
  if (end == NULL || *end != '\0' || end == buf || errno == ERANGE) {
    lex_fail(lx, start, errno == ERANGE ? "number out of range"
                                        : "malformed number");
    return;
  }
  tk->len = n;
  lx->pos = p;
}

/* ---- strings ---------------------------------------------------------- */

static size_t utf8_put(char *out, uint32_t cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  if (cp > 0x10FFFF)
    cp = 0xFFFD;
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* One escape after the backslash at t[*p]; appends to out, advances *p.
 * Returns false on a malformed escape. */
static bool lex_escape(const char *t, size_t *p, char *out, size_t *o) {
  char c = t[*p + 1];
  static const char simple_in[] = "'\"?\\abfnrtv";
  static const char simple_out[] = "'\"?\\\a\b\f\n\r\t\v";
  const char *hit = c ? strchr(simple_in, c) : NULL;
  if (hit) {
    out[(*o)++] = simple_out[hit - simple_in];
    *p += 2;
    return true;
  }
  if (c >= '0' && c <= '7') {
    unsigned v = 0;
    size_t k = *p + 1;
    for (int i = 0; i < 3 && t[k] >= '0' && t[k] <= '7'; i++)
      v = v * 8 + (unsigned)(t[k++] - '0');
    out[(*o)++] = (char)(v & 0xFF);
    *p = k;
    return true;
  }
  if (c == 'x' || c == 'u' || c == 'U') {
    size_t k = *p + 2, max = c == 'x' ? 2 : c == 'u' ? 4 : 8, i = 0;
    uint32_t v = 0;
    for (; i < max && hexval(t[k]) >= 0; i++)
      v = v * 16 + (uint32_t)hexval(t[k++]);
    if (i == 0 || (c != 'x' && i != max))
      return false;
    if (c == 'x')
      out[(*o)++] = (char)(v & 0xFF);
    else
      *o += utf8_put(out + *o, v);
    *p = k;
    return true;
  }
  if (c == '\0' || c == '\n' || c == '\r')
    return false;
  out[(*o)++] = '\\'; /* unknown escape: keep both bytes (LIKE uses \% \_) */
  out[(*o)++] = c;
  *p += 2;
  return true;
}

static void lex_string(lexer *lx, size_t start, bool raw) {
  const char *t = lx->text;
  size_t p = start + (raw ? 2 : 1);
  char quote = t[p - 1];
  char *out = malloc(lx->len - start + 8);
  size_t o = 0;
  if (out == NULL) {
    lex_fail(lx, start, "out of memory reading string");
    return;
  }
  while (t[p] != quote) {
    if (t[p] == '\0' || t[p] == '\n' || t[p] == '\r') {
      free(out);
      lex_fail(lx, start, "unterminated string");
      return;
    }
    if (t[p] == '\\' && raw && t[p + 1] && t[p + 1] != '\n') {
      out[o++] = t[p++];
      out[o++] = t[p++];
    } else if (t[p] == '\\' && !raw) {
      size_t at = p;
      if (!lex_escape(t, &p, out, &o)) {
        free(out);
        lex_fail(lx, at, "malformed escape sequence in string");
        return;
      }
    } else {
      out[o++] = t[p++];
    }
  }
  out[o] = '\0';
  lx->cur.kind = T_STRING;
  lx->cur.s = out;
  lx->cur.slen = o;
  lx->pos = p + 1;
  lx->cur.len = lx->pos - start;
}

/* ---- symbols ---------------------------------------------------------- */

static bool lex_symbol(lexer *lx, size_t p) {
  static const struct { const char *s; tok_kind k; } syms[] = {
      {"**", T_POW}, {"<=", T_LE}, {">=", T_GE}, {"==", T_EQ}, {"!=", T_NE},
      {"<<", T_SHL}, {">>", T_SHR}, {"&&", T_AND}, {"||", T_OR},
      {"(", T_LPAREN}, {")", T_RPAREN}, {"[", T_LBRACKET}, {"]", T_RBRACKET},
      {"{", T_LBRACE}, {"}", T_RBRACE}, {",", T_COMMA}, {"<", T_LT},
      {">", T_GT}, {"+", T_ADD}, {"-", T_SUB}, {"*", T_MUL}, {"/", T_DIV},
      {"%", T_MOD}, {"&", T_BAND}, {"|", T_BOR}, {"^", T_BXOR},
      {"~", T_BNOT}, {"!", T_NOT},
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
    size_t n = strlen(syms[i].s);
    if (strncmp(lx->text + p, syms[i].s, n) == 0) {
      lx->cur.kind = syms[i].k;
      lx->cur.len = n;
      lx->pos = p + n;
      return true;
    }
  }
  return false;
}

void lex_next(lexer *lx) {
  free(lx->cur.s);
  memset(&lx->cur, 0, sizeof lx->cur);
  if (lx->failed) {
    lx->cur.kind = T_ERROR;
    return;
  }
  const char *t = lx->text;
  size_t p = skip_blanks(t, lx->pos);
  lx->cur.pos = p;
  char c = t[p];
  if (c == '\0') {
    lx->cur.kind = T_EOF;
    lx->pos = p;
  } else if ((c == 'r' || c == 'R') && (t[p + 1] == '"' || t[p + 1] == '\'')) {
    lex_string(lx, p, true);
  } else if (isalpha((unsigned char)c) || c == '_') {
    lex_word(lx, p);
  } else if (c == '$' && strncmp(t + p, "$meta", 5) == 0 &&
             word_len(t, p + 1) == 4) {
    lx->cur.kind = T_IDENT;
    lx->cur.len = 5;
    lx->pos = p + 5;
  } else if (isdigit((unsigned char)c) ||
             (c == '.' && isdigit((unsigned char)t[p + 1]))) {
    lex_number(lx, p);
  } else if (c == '"' || c == '\'') {
    lex_string(lx, p, false);
  } else if (!lex_symbol(lx, p)) {
    char what[64];
    if (c == '=')
      snprintf(what, sizeof what, "unexpected '='; use '==' to compare,");
    else if (isprint((unsigned char)c))
      snprintf(what, sizeof what, "unexpected character '%c'", c);
    else
      snprintf(what, sizeof what, "unexpected byte 0x%02x",
               (unsigned)(unsigned char)c);
    lex_fail(lx, p, what);
  }
}

/* bench/csv/gen.c - writes the benchmark's CSV input.
 *
 *   gen SIZE OUT     SIZE in bytes, or with a suffix: K M G (10^3, 10^6,
 *                    10^9) or Ki Mi Gi (2^10, 2^20, 2^30)
 *
 * Ten columns shaped like a CRM export, one header line, then rows until
 * the file holds at least SIZE bytes (the last row is finished, so the file
 * is a little longer).  A fixed seed makes the output the same on every
 * machine and every run, so results can be compared.  On stdout: the number
 * of data rows (the header is not counted), which run.sh checks the
 * outputs against.
 *
 * The values are written in the form sluice prints them back (ISO dates,
 * a timestamp in whole seconds with Z, no trailing fraction zeros in the
 * double), so a correct csv -> csv run reproduces its input; the point is
 * still that sluice parses and formats every typed value on the way.
 * Some fields need quoting (a comma, a doubled quote, a line break), as
 * real exports do; about 1 row in 200 has a line break inside a field.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT_BUF (1u << 20)
#define ROW_MAX 1024 /* no row is longer; flushing leaves this much room */

static const char *const firsts[] = {
    "James",   "Mary",   "Robert", "Patricia", "John",    "Jennifer",
    "Michael", "Linda",  "David",  "Elena",    "William", "Sofia",
    "Richard", "Aiko",   "Joseph", "Fatima",   "Thomas",  "Ingrid",
    "Carlos",  "Nkechi", "Wei",    "Olga",     "Pierre",  "Anika"};
static const char *const lasts[] = {
    "Smith",   "Johnson", "Williams",  "Brown",    "Jones",  "Garcia",
    "Miller",  "Davis",   "Rodriguez", "Martinez", "Nguyen", "Okafor",
    "Schmidt", "Rossi",   "Tanaka",    "Kowalski", "Dubois", "Haddad",
    "Larsen",  "Moreau",  "Silva",     "Novak",    "Chen",   "Patel"};
static const char *const domains[] = {"example.com", "acme.io",
                                      "globex.net",  "initech.org",
                                      "mail.test",   "corp.example"};
static const char *const categories[] = {"Prospect",   "Customer", "Partner",
                                         "Reseller",   "Churned",  "Trial",
                                         "Enterprise", "SMB"};
static const char *const words[] = {
    "call",      "back",     "next",  "week",      "about",   "renewal",
    "pricing",   "demo",     "went",  "well",      "asked",   "for",
    "a",         "quote",    "on",    "the",       "premium", "plan",
    "budget",    "approved", "Q3",    "contact",   "prefers", "email",
    "follow-up", "pending",  "legal", "review",    "signed",  "NDA",
    "decision",  "maker",    "is",    "CFO",       "trial",   "extended",
    "to",        "30",       "days",  "migrating", "from",    "competitor",
    "needs",     "SSO",      "and",   "audit",     "logs",    "ok"};

#define COUNT(a) (sizeof(a) / sizeof *(a))

/* splitmix64: tiny, fast, and good enough for test data. */
static uint64_t rng_state = UINT64_C(0x5EED5EED5EED5EED);

static uint64_t rnd(void)
{
  uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* Uniform enough in [0, n) for n far below 2^32. */
static uint32_t below(uint32_t n)
{
  return (uint32_t)(((rnd() >> 32) * n) >> 32);
}

static char *put_str(char *p, const char *s)
{
  size_t n = strlen(s);
  memcpy(p, s, n);
  return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
  char tmp[20];
  size_t n = 0;

  do
    tmp[n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  while (n > 0)
    *p++ = tmp[--n];
  return p;
}

/* v with exactly width digits, zero padded. */
static char *put_fixed(char *p, uint64_t v, int width)
{
  for (int i = width - 1; i >= 0; i--, v /= 10)
    p[i] = (char)('0' + v % 10);
  return p + width;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
  /* Howard Hinnant's algorithm, days since 1970-01-01. */
  int64_t era, doe, yoe, doy, mp;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

static char *put_date(char *p, int64_t days)
{
  int y, m, d;

  civil_from_days(days, &y, &m, &d);
  p = put_fixed(p, (uint64_t)y, 4);
  *p++ = '-';
  p = put_fixed(p, (uint64_t)m, 2);
  *p++ = '-';
  return put_fixed(p, (uint64_t)d, 2);
}

#define DAY_2015 16436 /* 2015-01-01 */
#define DAYS_10Y 3653

/* name: "First Last"; 1 in 16 "Last, First" (a comma: quoted); 1 in 64
 * with a nickname in quotes (doubled inside the quoted field). */
static char *put_name(char *p, const char *first, const char *last)
{
  uint32_t r = below(64);

  if (r == 0) {
    p = put_str(p, "\"");
    p = put_str(p, first);
    p = put_str(p, " \"\"");
    p = put_str(p, firsts[below(COUNT(firsts))]);
    p = put_str(p, "\"\" ");
    p = put_str(p, last);
    return put_str(p, "\"");
  }
  if (r < 5) {
    *p++ = '"';
    p = put_str(p, last);
    p = put_str(p, ", ");
    p = put_str(p, first);
    *p++ = '"';
    return p;
  }
  p = put_str(p, first);
  *p++ = ' ';
  return put_str(p, last);
}

static char *put_lower(char *p, const char *s)
{
  for (; *s; s++)
    *p++ = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
  return p;
}

/* A note of 0-24 words; 1 in 10 has a comma, 1 in 200 a line break, and
 * either makes it quoted.  1 in 20 is empty. */
static char *put_note(char *p)
{
  char *start = p;
  uint32_t nwords = below(25), r = below(200);
  int quoted = 0;

  if (below(20) == 0)
    return p;
  *p++ = '"'; /* kept only if the note needs quoting */
  for (uint32_t i = 0; i < nwords + 1; i++) {
    if (i > 0) {
      if (r == 0 && i == nwords / 2 + 1) {
        *p++ = '\n';
        quoted = 1;
      } else if (r < 20 && i == 1) {
        *p++ = ',';
        *p++ = ' ';
        quoted = 1;
      } else {
        *p++ = ' ';
      }
    }
    p = put_str(p, words[below(COUNT(words))]);
  }
  if (quoted) {
    *p++ = '"';
    return p;
  }
  memmove(start, start + 1, (size_t)(p - start - 1));
  return p - 1;
}

static char *put_row(char *p, uint64_t id)
{
  const char *first = firsts[below(COUNT(firsts))];
  const char *last = lasts[below(COUNT(lasts))];
  uint64_t cents, score;
  int64_t day;

  /* id: int64 */
  p = put_u64(p, id);
  *p++ = ',';
  /* name: string */
  p = put_name(p, first, last);
  *p++ = ',';
  /* email: string */
  p = put_lower(p, first);
  *p++ = '.';
  p = put_lower(p, last);
  p = put_u64(p, below(1000));
  *p++ = '@';
  p = put_str(p, domains[below(COUNT(domains))]);
  *p++ = ',';
  /* amount: decimal(12,2), mostly under a million, 1 in 50 negative */
  cents = (uint64_t)below(100000000u);
  if (below(50) == 0)
    *p++ = '-';
  p = put_u64(p, cents / 100);
  *p++ = '.';
  p = put_fixed(p, cents % 100, 2);
  *p++ = ',';
  /* score: double in [0, 100) with up to 4 decimals, written the shortest
   * way ("87.5", not "87.5000"), as sluice writes doubles back */
  score = below(1000000u);
  p = put_u64(p, score / 10000);
  if (score % 10000 != 0) {
    uint64_t frac = score % 10000;
    int width = 4;
    while (frac % 10 == 0) {
      frac /= 10;
      width--;
    }
    *p++ = '.';
    p = put_fixed(p, frac, width);
  }
  *p++ = ',';
  /* active: bool */
  p = put_str(p, below(4) ? "true" : "false");
  *p++ = ',';
  /* signup_date: date, 2015-2024 */
  day = DAY_2015 + below(DAYS_10Y);
  p = put_date(p, day);
  *p++ = ',';
  /* last_seen: timestamp, after the signup, whole seconds, UTC */
  {
    uint32_t secs = below(86400);
    p = put_date(p, day + below(365));
    *p++ = 'T';
    p = put_fixed(p, secs / 3600, 2);
    *p++ = ':';
    p = put_fixed(p, secs / 60 % 60, 2);
    *p++ = ':';
    p = put_fixed(p, secs % 60, 2);
    *p++ = 'Z';
  }
  *p++ = ',';
  /* category: string */
  p = put_str(p, categories[below(COUNT(categories))]);
  *p++ = ',';
  /* note: string */
  p = put_note(p);
  *p++ = '\n';
  return p;
}

static int parse_size(const char *s, uint64_t *out)
{
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  uint64_t unit = 1;

  if (end == s)
    return -1;
  if (*end == 'K' || *end == 'k')
    unit = 1000;
  else if (*end == 'M')
    unit = 1000000;
  else if (*end == 'G')
    unit = 1000000000;
  if (unit != 1 && *++end == 'i') {
    unit = unit == 1000 ? 1024 : unit == 1000000 ? 1u << 20 : 1u << 30;
    end++;
  }
  if (*end == 'B')
    end++;
  if (*end != '\0')
    return -1;
  *out = (uint64_t)v * unit;
  return 0;
}

int main(int argc, char **argv)
{
  static const char header[] =
      "id,name,email,amount,score,active,signup_date,last_seen,category,"
      "note\n";
  uint64_t size, written, rows = 0;
  char *buf, *p;
  FILE *f;

  if (argc != 3 || parse_size(argv[1], &size) < 0) {
    fprintf(stderr, "usage: gen SIZE OUT  (SIZE: bytes, or 10K 5M 1G 1Gi)\n");
    return 2;
  }
  if ((f = fopen(argv[2], "wb")) == NULL) {
    perror(argv[2]);
    return 1;
  }
  if ((buf = malloc(OUT_BUF)) == NULL) {
    perror("malloc");
    return 1;
  }
  p = put_str(buf, header);
  written = sizeof header - 1;
  while (written < size) {
    char *q = put_row(p, ++rows);
    written += (uint64_t)(q - p);
    p = q;
    if ((size_t)(p - buf) > OUT_BUF - ROW_MAX) {
      if (fwrite(buf, 1, (size_t)(p - buf), f) != (size_t)(p - buf)) {
        perror(argv[2]);
        return 1;
      }
      p = buf;
    }
  }
  if (fwrite(buf, 1, (size_t)(p - buf), f) != (size_t)(p - buf) ||
      fclose(f) != 0) {
    perror(argv[2]);
    return 1;
  }
  free(buf);
  printf("%llu\n", (unsigned long long)rows);
  return 0;
}

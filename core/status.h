/* core/status.h - `sluice status FILE`: last run, checkpoint, next run. */
#ifndef SLUICE_CORE_STATUS_H
#define SLUICE_CORE_STATUS_H

#include <stdio.h>

struct pipeline_file;
struct run_record;

/* Prints, for every pipeline of pf, its last run among recs (the last
 * record of each pipeline), its saved checkpoint and its next scheduled
 * run; as a JSON array with as_json.  0, or -1 on an output error. */
int status_print(FILE *out, const struct pipeline_file *pf,
                 const struct run_record *recs, size_t n, int as_json);

#endif

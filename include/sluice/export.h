/* sluice/export.h - symbol visibility and attribute helpers for the SDK.
 * Since ABI 1.0. */
#ifndef SLUICE_EXPORT_H
#define SLUICE_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define SLUICE_API __attribute__((visibility("default")))
#define SLUICE_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define SLUICE_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define SLUICE_API
#define SLUICE_PRINTF(fmt, args)
#define SLUICE_WARN_UNUSED
#endif

#endif /* SLUICE_EXPORT_H */

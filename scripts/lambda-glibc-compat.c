/* Linked into the Lambda bootstrap only (scripts/package-lambda.sh links it with ld's --wrap for each symbol below).
 *
 * Built on Debian bookworm (glibc 2.36, GCC 12's libstdc++), the Swift runtime and libraries linked statically into
 * the router reference a few symbols at versions newer than Amazon Linux 2023 (glibc 2.34, GCC 11's libstdc++) has.
 * Each wrapper calls the older version of the same function, which both systems export:
 *   hypot, hypotf       GLIBC_2.35 (new implementation)  -> GLIBC_2.2.5
 *   condition_variable::wait(unique_lock<mutex>&)  GLIBCXX_3.4.30 -> GLIBCXX_3.4.11
 * scripts/check-lambda-zip.py proves no newer version is left. */

__asm__(".symver router_compat_hypot, hypot@GLIBC_2.2.5");
__asm__(".symver router_compat_hypotf, hypotf@GLIBC_2.2.5");
__asm__(".symver router_compat_cv_wait, _ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE@GLIBCXX_3.4.11");

double router_compat_hypot(double, double);
float router_compat_hypotf(float, float);
void router_compat_cv_wait(void *condition, void *lock);

double __wrap_hypot(double x, double y) { return router_compat_hypot(x, y); }
float __wrap_hypotf(float x, float y) { return router_compat_hypotf(x, y); }
void __wrap__ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE(void *condition, void *lock) {
    router_compat_cv_wait(condition, lock);
}

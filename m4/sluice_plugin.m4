dnl SLUICE_PLUGIN(name, make-name, deps-found, help)
dnl One line a plugin: --enable-NAME / --disable-NAME.  A plugin is on when
dnl its dependencies are found; asking for one whose dependencies are
dnl missing stops configure.  Defines the automake conditional
dnl BUILD_PLUGIN_<MAKE-NAME> (upper case).
AC_DEFUN([SLUICE_PLUGIN], [
  AC_ARG_ENABLE([$1], [AS_HELP_STRING([--enable-$1], [$4 plugin])],
    [sluice_want=$enableval], [sluice_want=auto])
  sluice_build=no
  AS_IF([test "x$sluice_want" = xyes && test "x$3" != xyes],
    [AC_MSG_ERROR([plugin $1 was asked for but its dependencies are missing])])
  AS_IF([test "x$sluice_want" != xno && test "x$3" = xyes], [sluice_build=yes])
  AS_IF([test "x$sluice_build" = xyes], [sluice_plugins_enabled="$sluice_plugins_enabled $1"])
  AM_CONDITIONAL(m4_toupper([BUILD_PLUGIN_$2]), [test "x$sluice_build" = xyes])
])

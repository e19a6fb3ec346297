// Nothing: the target this belongs to (tapedeck_test_pch, tests/CMakeLists.txt) exists to compile
// the test binaries' precompiled header, and CMake needs a source to attach it to.

// The one translation unit that compiles Asio and Beast (see BOOST_*_SEPARATE_COMPILATION in
// CMakeLists.txt): every other file of the module includes their headers as declarations only.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>

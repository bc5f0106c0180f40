//! A C-ABI function compiled by cargo; the Python package loads it with ctypes.

#[no_mangle]
pub extern "C" fn rustadd_add(a: i64, b: i64) -> i64 {
    a + b
}

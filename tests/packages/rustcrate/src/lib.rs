//! The same C-ABI function, computed by a crate from the registry.

#[no_mangle]
pub extern "C" fn rustadd_add(a: i64, b: i64) -> i64 {
    tinyadd::add(a, b)
}

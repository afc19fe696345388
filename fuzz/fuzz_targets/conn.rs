//! The connection state machine on arbitrary bytes split at arbitrary points, with arbitrary
//! worker outcomes, short writes, timeouts, end-of-file, the drain and every admission option
//! (`etamil_mio::server::fuzzing::drive_conn` says how the input is read): nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    etamil_mio::server::fuzzing::drive_conn(data);
});

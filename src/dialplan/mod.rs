//! The routing decision: a request (dialled number, caller, headers, time) and the dialplan's
//! contexts of ordered rules give a [`Route`]. Pure: execution lives in the switchboard.

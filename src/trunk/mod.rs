//! Carrier trunks at run time: inbound identification, route-group selection and failover,
//! per-trunk limits and gateway health.

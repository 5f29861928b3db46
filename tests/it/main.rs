//! Integration tests: the real binary against a real PostgreSQL (one database per test).
//!
//! Needs PostgreSQL at PGCUTOVER_TEST_PG (default postgresql://postgres@127.0.0.1:5432/postgres)
//! MariaDB/MySQL at PGCUTOVER_TEST_MYSQL (default mysql://root@127.0.0.1:3306) for the mysql_*
//! tests, and, for the dataset tests, the sample databases in ../shared/datasets (or
//! PGCUTOVER_DATASETS).

mod awkward;
mod cli;
mod compare;
mod cutover;
mod data_only;
mod data_only_conversions;
mod datasets;
mod documented;
mod follow;
mod harness;
mod migration_tools;
mod mysql_awkward;
mod mysql_charsets;
mod mysql_cli;
mod mysql_compare;
mod mysql_datasets;
mod mysql_options;
mod mysql_postgis;
mod mysql_privileges;
mod mysql_resume;
mod mysql_tls;
mod operator_safety;
mod orphans;
mod overlap;
mod refused_copy;
mod resume;
mod secrets;
mod sqlite_booleans;
mod system_columns;
mod verify;

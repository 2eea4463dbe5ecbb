-- Prefect's tables live in a database of their own, never duban's (deploy/README.md).
CREATE DATABASE prefect OWNER duban;
\connect prefect
CREATE EXTENSION IF NOT EXISTS pg_trgm;

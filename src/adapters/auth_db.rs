//! The auth DB (MySQL/MariaDB, AzerothCore or TrinityCore schema) behind the accounts seam.

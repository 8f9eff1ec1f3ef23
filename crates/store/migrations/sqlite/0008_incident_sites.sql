-- Every site an incident covers: the site it was opened for, and each
-- site whose signal joined it later as the same attack ([correlation]).
-- `incidents.site` stays the first site; lookups by site go through here.
CREATE TABLE incident_sites (
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    site         TEXT    NOT NULL,
    joined_at    INTEGER NOT NULL,
    PRIMARY KEY (incident_id, site)
);
CREATE INDEX incident_sites_by_site ON incident_sites (site);

INSERT INTO incident_sites (incident_id, site, joined_at)
    SELECT id, site, discovered_at FROM incidents;

-- Whatever opens an incident, its first site is covered from the start.
CREATE TRIGGER incident_first_site AFTER INSERT ON incidents
BEGIN
    INSERT INTO incident_sites (incident_id, site, joined_at)
        VALUES (NEW.id, NEW.site, NEW.discovered_at);
END;

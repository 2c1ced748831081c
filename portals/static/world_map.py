#!/usr/bin/env python3
"""Makes portals/static/world.json, the outline map the admin dashboard shades by country.

Inputs (fetched once with `npm pack world-atlas@2 i18n-iso-countries@7` and unpacked here):
world-atlas 2.0.2 `countries-110m.json` (Natural Earth 1:110m, public domain; packaging ISC) and
i18n-iso-countries 7.14.0 `codes.json` (MIT) for ISO 3166 numeric → alpha-2 codes. The output is
an equirectangular projection (84°N to 57°S, no Antarctica) on a 960×460 grid, integer
coordinates, one SVG path per country.
"""
import json, math
t = json.load(open('world-atlas-2.0.2/package/countries-110m.json'))
codes = json.load(open('i18n-iso-countries-7.14.0/package/codes.json'))
numeric_to_alpha2 = {row[2]: row[0] for row in codes}
sx, sy = t['transform']['scale']; tx, ty = t['transform']['translate']
arcs = []
for arc in t['arcs']:
    x = y = 0; pts = []
    for dx, dy in arc:
        x += dx; y += dy
        pts.append((x * sx + tx, y * sy + ty))
    arcs.append(pts)
W, H = 960, 460  # equirectangular, latitudes 83N..-57S (no Antarctica)
TOP, BOTTOM = 84.0, -57.0
def project(lon, lat):
    return ((lon + 180) / 360 * W, (TOP - lat) / (TOP - BOTTOM) * H)
def ring(indices):
    pts = []
    for i in indices:
        a = arcs[i] if i >= 0 else arcs[~i][::-1]
        pts.extend(a if not pts else a[1:])
    # A ring that crosses the antimeridian (Russia, Fiji) is unwrapped into one continuous ring and
    # drawn twice, a world apart: the map's edge clips each copy where the other goes on.
    unwrapped = []
    for lon, lat in pts:
        if unwrapped:
            previous = unwrapped[-1][0]
            while lon - previous > 180:
                lon -= 360
            while lon - previous < -180:
                lon += 360
        unwrapped.append((lon, lat))
    shifts = [0]
    if max(lon for lon, _ in unwrapped) > 180:
        shifts.append(-360)
    if min(lon for lon, _ in unwrapped) < -180:
        shifts.append(360)
    paths = []
    for shift in shifts:
        out = []
        last = None
        for lon, lat in unwrapped:
            x, y = project(lon + shift, max(BOTTOM - 5, lat))
            p = (round(x), round(y))
            if p != last:
                out.append(p); last = p
        if len(out) >= 3:
            paths.append('M' + 'L'.join(f'{x} {y}' for x, y in out) + 'Z')
    return ''.join(paths)
countries = []
for g in t['objects']['countries']['geometries']:
    name = g['properties']['name']
    if name == 'Antarctica':
        continue
    polys = g['arcs'] if g['type'] == 'MultiPolygon' else [g['arcs']]
    d = ''.join(ring(r) for poly in polys for r in poly)
    code = numeric_to_alpha2.get(g.get('id'))
    if not d:
        continue
    countries.append({'code': code, 'name': name, 'd': d})
for c in countries:
    if c['name'] == 'Kosovo':
        c['code'] = 'XK'  # user-assigned: ISO 3166 has no numeric code for it
json.dump({'width': W, 'height': H, 'source': 'world-atlas 2.0.2 countries-110m (Natural Earth, public domain; ISC), ISO codes from i18n-iso-countries 7.14.0 (MIT)', 'countries': countries}, open('world.json', 'w'), separators=(',', ':'))

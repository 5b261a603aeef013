// Builds the extension into build/chrome/ and build/firefox/ (node build.mjs), and with --zip
// also the store packages ../../dist/mail_tracking_ext-gmail-<version>.zip (Chrome Web Store)
// and ../../dist/mail_tracking_ext-gmail-<version>-firefox.zip (addons.mozilla.org).
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { zipSync } from "fflate";

const HERE = dirname(fileURLToPath(import.meta.url));
const DIST = join(HERE, "..", "..", "dist");
const { version } = JSON.parse(readFileSync(join(HERE, "package.json"), "utf8"));
const ENTRY_POINTS = ["background", "compose", "popup", "options"];
const STATIC = ["_locales", "icons", "rules", "src/popup.html", "src/options.html", "src/pages.css"];

// What differs between the browsers lives here and only here.
const TARGETS = {
    chrome: (manifest) => manifest,
    firefox: (manifest) => ({
        ...manifest,
        // Firefox runs MV3 background code as an event page, not a service worker
        background: { scripts: ["background.js"] },
        browser_specific_settings: { gecko: { id: "gmail@mail-tracking-ext.odoo", strict_min_version: "128.0" } },
    }),
};

function manifestFor(target) {
    const manifest = JSON.parse(readFileSync(join(HERE, "manifest.json"), "utf8"));
    return TARGETS[target]({ ...manifest, version });
}

async function build(target) {
    const out = join(HERE, "build", target);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    await esbuild.build({
        entryPoints: Object.fromEntries(ENTRY_POINTS.map((name) => [name, join(HERE, "src", `${name}.js`)])),
        bundle: true,
        format: "iife",
        target: ["chrome120", "firefox128"],
        outdir: out,
        loader: { ".css": "text" },
        legalComments: "none",
        logLevel: "warning",
    });
    for (const path of STATIC) {
        const source = join(HERE, path);
        cpSync(source, join(out, path.replace(/^src\//, "")), { recursive: true });
    }
    writeFileSync(join(out, "manifest.json"), JSON.stringify(manifestFor(target), null, 2) + "\n");
    return out;
}

function filesUnder(folder) {
    return readdirSync(folder).sort().flatMap((name) => {
        const path = join(folder, name);
        return statSync(path).isDirectory() ? filesUnder(path) : [path];
    });
}

function zip(folder, target) {
    // fixed dates: the same sources give the same zip
    const mtime = new Date("2026-01-01T00:00:00Z");
    const entries = Object.fromEntries(filesUnder(folder).map((path) => [
        relative(folder, path).split("\\").join("/"), [readFileSync(path), { mtime }]]));
    mkdirSync(DIST, { recursive: true });
    const name = `mail_tracking_ext-gmail-${version}${target === "chrome" ? "" : `-${target}`}.zip`;
    writeFileSync(join(DIST, name), zipSync(entries, { level: 9 }));
    return join(DIST, name);
}

for (const target of Object.keys(TARGETS)) {
    const folder = await build(target);
    console.log(`built ${relative(process.cwd(), folder)}`);
    if (process.argv.includes("--zip")) {
        console.log(`packaged ${relative(process.cwd(), zip(folder, target))}`);
    }
}

import { Suspense } from "react";
import { Outlet } from "react-router-dom";
import { Loading, Logo } from "../ui";
import { HealthBanner } from "./health-banner";
import { ProjectPicker } from "./project-picker";
import { SideNav } from "./side-nav";
import { TabBar } from "./tab-bar";
import { UserMenu } from "./user-menu";

/** Mobile first: a top bar and a bottom tab bar; from 900 px a side nav replaces the tabs. */
export function AppLayout() {
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <SideNav />
      <div className="app-main">
        <header className="top-bar">
          <span className="brand brand-mobile">
            <Logo />
            Kensa
          </span>
          <ProjectPicker />
          <UserMenu />
        </header>
        <HealthBanner />
        <main id="main" tabIndex={-1}>
          <Suspense fallback={<Loading />}>
            <Outlet />
          </Suspense>
        </main>
      </div>
      <TabBar />
    </div>
  );
}
